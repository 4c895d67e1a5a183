"""Predicting a CSV file of inputs, of any size, in chunks: the work behind `predict --csv`, and
any later bulk door.

The file is read by csv_files (its header refused, and audited, before any row), each row by
inputs.read_input as every door reads an input. Each chunk is predicted in one model call and
audited in one bulk insert, inside one transaction, so the rows of a chunk are all audited or
none is, and what a door writes for them agrees with the trail. No row is dropped: a bad one
comes back with its line and its refusals, audited as refused.

A 浏览量 (views) column is refused, not ignored. Every door refuses a field it does not take,
and a file that already has views is a training file (`retrain --data`) or real outcomes
(`import_outcomes`): predicting over it would put guessed views beside the real ones and use the
real ones for nothing, which the person who sent them did not expect.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path

from django.db import DatabaseError, reset_queries, transaction

from .. import features
from . import csv_files
from .csv_files import CsvFile, CsvRefused, Line
from .errors import ModelUnavailable, ViewsiteError
from .inputs import InputRefused, read_input
from .predictions import Answer, RequestInfo, predict, record_refusal

# One model call and one bulk insert per chunk. On SQLite each chunk's insert holds the write
# lock that web requests queue on; 5,000 rows hold it for tens of milliseconds.
CHUNK_SIZE = 5_000
RESULT_COLUMNS = (
    "views",
    "views_lower",
    "views_upper",
    "interval_coverage",
    "model_version",
    "record_id",
    "error",
    # Appended, so that the columns before it keep their places for scripts that count them:
    # "true" when an input lies outside the version's training range (the answer is an
    # extrapolation), "false" inside, blank for a refused row.
    "extrapolated",
)
EXPECTED_HEADER = csv_files.header_text(csv_files.INPUT_COLUMNS)
VIEWS_HINT = (
    "views are what this command predicts; to train on real views use `retrain --data`, to "
    "record them use `import_outcomes`."
)


@dataclass
class Chunk:
    """A chunk of the file, predicted and audited: its output rows, ready for a CSV writer, and
    what a report needs. `unavailable` when no model could answer its good rows (they were
    audited as refused by the service, and the file should not be read further)."""

    first_line: int
    last_line: int
    rows: list[list]  # output_header's columns, one row per input row, in order
    refused: list[tuple[int, dict]]  # (line, errors) of each refused row, in order
    predicted: int = 0
    version: str = ""  # the label of the version that answered, when one did
    unavailable: ModelUnavailable | None = None


class ChunkNotAudited(ViewsiteError):
    """The database refused a chunk's audit rows: none of them was written."""

    def __init__(self, first_line: int, last_line: int, error: DatabaseError):
        super().__init__(str(error))
        self.first_line = first_line
        self.last_line = last_line


def open_input_file(path: Path | str, *, info: RequestInfo) -> CsvFile:
    """The file, its header checked; a refused header is audited (one row) and raised as
    CsvRefused before any row is read."""
    try:
        return CsvFile(
            path,
            csv_files.INPUT_COLUMNS,
            refused=(csv_files.VIEWS,),
            refused_hint=VIEWS_HINT,
        )
    except CsvRefused as refused:
        # A file that cannot be opened sent nothing to audit; a refused header did.
        if refused.refusal.code != "file_unreadable":
            record_refusal(
                raw_inputs=[{"file": Path(path).name, "header": refused.header}],
                errors=[{"header": [refused.refusal]}],
                info=info,
            )
        raise


def predict_file(table: CsvFile, *, chunk_size: int, info: RequestInfo) -> Iterator[Chunk]:
    """Each chunk of the file's rows, in order, once it is predicted and audited.

    `info` is copied for each chunk with its own start time. Raises ChunkNotAudited when a
    chunk's audit cannot be written (the chunks before it were, and were yielded).
    """
    lines = iter(table)
    while chunk := list(islice(lines, chunk_size)):
        yield _predict_chunk(table, chunk, info)


def _predict_chunk(table: CsvFile, lines: list[Line], info: RequestInfo) -> Chunk:
    info = replace(info, started=time.perf_counter())
    name = table.path.name
    header = table.header
    # Each line's place in the chunk, its raw input as audited, and its input or its errors.
    good: list[int] = []
    items, good_raw = [], []
    bad: list[int] = []
    bad_raw, bad_errors = [], []
    for place, line in enumerate(lines):
        if line.refusal is not None:
            bad.append(place)
            bad_raw.append({"file": name, "line": line.number, "cells": line.raw})
            bad_errors.append({"row": [line.refusal]})
            continue
        raw = {"file": name, "line": line.number, **dict(zip(header, line.raw, strict=True))}
        try:
            items.append(read_input(line.cells))
        except InputRefused as refused:
            bad.append(place)
            bad_raw.append(raw)
            bad_errors.append(refused.errors)
        else:
            good.append(place)
            good_raw.append(raw)
    unavailable = None
    answers = []
    try:
        with transaction.atomic():
            bad_ids = (
                record_refusal(raw_inputs=bad_raw, errors=bad_errors, info=info, batch=True)
                if bad
                else []
            )
            if good:
                try:
                    answers = predict(inputs=items, raw_inputs=good_raw, info=info, batch=True)
                except ModelUnavailable as error:  # audited by the service, with its own ids
                    unavailable = error
    except DatabaseError as error:
        raise ChunkNotAudited(lines[0].number, lines[-1].number, error) from error
    finally:
        # DEBUG keeps every query's SQL; a command, unlike a request, never clears them.
        reset_queries()
    width = len(header)
    rows: list[list] = [[]] * len(lines)
    refusals: dict[int, dict] = {}  # place: errors
    for place, record_id, errors in zip(bad, bad_ids, bad_errors, strict=True):
        rows[place] = _refused_row(lines[place], width, record_id, errors)
        refusals[place] = errors
    if unavailable is not None:
        errors = {"model": [unavailable.refusal or str(unavailable)]}
        for place in good:
            # Audited as refused by the service, which raised before it could give their ids.
            rows[place] = _refused_row(lines[place], width, "", errors)
            refusals[place] = errors
    else:
        for place, answer in zip(good, answers, strict=True):
            rows[place] = _answered_row(lines[place], answer)
    return Chunk(
        first_line=lines[0].number,
        last_line=lines[-1].number,
        rows=rows,
        refused=[(lines[place].number, refusals[place]) for place in sorted(refusals)],
        predicted=len(answers),
        version=answers[0].model_version.label if answers else "",
        unavailable=unavailable,
    )


def output_header(table: CsvFile) -> list[str]:
    """The output's header: the line, the input's own header, then the results."""
    return ["line", *table.header, *RESULT_COLUMNS]


def _cells(line: Line, width: int) -> list[str]:
    cells = line.raw[:width]
    return cells if len(cells) == width else [*cells, *[""] * (width - len(cells))]


def _refused_row(line: Line, width: int, record_id, errors: dict) -> list:
    """A refused row of the output: its line, its input cells, its record and its error."""
    return [
        line.number, *_cells(line, width), "", "", "", "", "", record_id, describe(errors), ""
    ]  # fmt: skip


def _answered_row(line: Line, answer: Answer) -> list:
    """An answered row of the output: its line, its input cells, and its answer."""
    version = answer.model_version
    if answer.views_lower is None:
        interval = ("", "", "")
    else:
        interval = (answer.views_lower, answer.views_upper, version.interval_coverage)
    return [
        line.number,
        *line.raw,
        answer.views,
        *interval,
        version.label,
        answer.pk,
        "",
        "true" if answer.extrapolated else "false",
    ]


def describe(errors: dict) -> str:
    """Errors in one line, in the active language: "点赞数 (likes): “x” is not a whole number.
    转发数 (shares): …" """
    parts = []
    for key, refusals in errors.items():
        feature = features.BY_NAME.get(key)
        text = " ".join(str(refusal) for refusal in refusals)
        parts.append(f"{feature.display}: {text}" if feature else text)
    return " ".join(parts)
