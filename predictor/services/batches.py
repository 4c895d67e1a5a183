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
from ..models import PredictionRequest
from . import csv_files
from .csv_files import CsvFile, CsvRefused, Line
from .errors import ModelUnavailable, ViewsiteError
from .inputs import InputRefused, read_input
from .predictions import RequestInfo, predict, record_refusal

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
)
EXPECTED_HEADER = csv_files.header_text(csv_files.INPUT_COLUMNS)
VIEWS_HINT = (
    "views are what this command predicts; to train on real views use `retrain --data`, to "
    "record them use `import_outcomes`."
)


@dataclass
class Row:
    """One record of the input file, from its line number to its audit row."""

    line: int
    cells: list[str]  # as read; empty when the line could not be read
    raw: dict  # what the audit stores as the input
    item: dict | None = None  # the validated input, when it is good
    errors: dict | None = None  # {field: [Refusal or sentence]}
    record: PredictionRequest | None = None


@dataclass
class Chunk:
    """A chunk's rows, audited; `unavailable` when no model could answer its good rows (they were
    audited as refused by the service, and the file should not be read further)."""

    rows: list[Row]
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
    rows = (_row(table, line) for line in table)
    while chunk := list(islice(rows, chunk_size)):
        yield _predict_chunk(chunk, info)


def _row(table: CsvFile, line: Line) -> Row:
    name = table.path.name
    if line.refusal is not None:
        raw = {"file": name, "line": line.number, "cells": line.raw}
        return Row(line.number, line.raw, raw, errors={"row": [line.refusal]})
    row = Row(
        line.number,
        line.raw,
        {"file": name, "line": line.number, **dict(zip(table.header, line.raw, strict=True))},
    )
    try:
        row.item = read_input(line.cells)
    except InputRefused as refused:
        row.errors = refused.errors
    return row


def _predict_chunk(chunk: list[Row], info: RequestInfo) -> Chunk:
    info = replace(info, started=time.perf_counter())
    refused = [row for row in chunk if row.errors]
    answered = [row for row in chunk if not row.errors]
    unavailable = None
    try:
        with transaction.atomic():
            if refused:
                records = record_refusal(
                    raw_inputs=[row.raw for row in refused],
                    errors=[row.errors for row in refused],
                    info=info,
                    batch=True,
                )
                for row, record in zip(refused, records, strict=True):
                    row.record = record
            if answered:
                try:
                    records = predict(
                        inputs=[row.item for row in answered],
                        raw_inputs=[row.raw for row in answered],
                        info=info,
                        batch=True,
                    )
                except ModelUnavailable as error:  # audited by the service
                    unavailable = error
                    for row in answered:
                        row.errors = {"model": [error.refusal or str(error)]}
                else:
                    for row, record in zip(answered, records, strict=True):
                        row.record = record
    except DatabaseError as error:
        raise ChunkNotAudited(chunk[0].line, chunk[-1].line, error) from error
    finally:
        # DEBUG keeps every query's SQL; a command, unlike a request, never clears them.
        reset_queries()
    return Chunk(chunk, unavailable)


def output_header(table: CsvFile) -> list[str]:
    """The output's header: the line, the input's own header, then the results."""
    return ["line", *table.header, *RESULT_COLUMNS]


def output_row(row: Row, width: int) -> list:
    """A row of the output: its line, its input cells, and its answer or its error."""
    cells = row.cells[:width]
    cells = [*cells, *[""] * (width - len(cells))]
    record = row.record
    if row.errors:
        record_id = record.pk if record is not None else ""
        return [row.line, *cells, "", "", "", "", "", record_id, describe(row.errors)]
    version = record.model_version
    return [
        row.line,
        *cells,
        record.views,
        _blank(record.views_lower),
        _blank(record.views_upper),
        _blank(version.interval_coverage if record.views_lower is not None else None),
        version.label,
        record.pk,
        "",
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


def _blank(value):
    return "" if value is None else value
