"""Predict from the command line: one article, or a CSV file of any size.

A door like the form and the API: each input is checked by the API's own serializer, answered
through services.predict and audited with the `cli` channel, or audited as refused through
services.record_refusal with its error. A file is streamed in chunks, each predicted in one model
call and one bulk insert, and the output is written as it goes, so a million rows take the same
memory as a thousand. No row is dropped: a bad one is written to the output with its line number
and its error, and audited as refused.

A 浏览量 (views) column is refused, not ignored. Every door refuses a field it does not take
(features.unknown_fields), and a file that already has views is a training file (`retrain
--data`) or real outcomes (`import_outcomes`): predicting over it would put guessed views beside
the real ones and use the real ones for nothing, which the person who sent them did not expect.
"""

import codecs
import csv
import io
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, reset_queries, transaction
from django.utils import translation
from rest_framework.exceptions import ValidationError
from tqdm import tqdm

from predictor import features, services
from predictor.api.serializers import PredictionInputSerializer
from predictor.models import Channel, PredictionRequest
from predictor.templatetags.viewsite import about, times_in

# One model call and one bulk insert per chunk. On SQLite each chunk's insert holds the write
# lock that web requests queue on; 5,000 rows hold it for tens of milliseconds.
CHUNK_SIZE = 5_000
# Bad rows named on stderr at verbosity 1 (all of them at -v 2); every one is in the output.
SHOWN_REFUSALS = 20
USER_AGENT = "manage.py predict"
RESULT_COLUMNS = (
    "views",
    "views_lower",
    "views_upper",
    "interval_coverage",
    "model_version",
    "record_id",
    "error",
)
EXPECTED_HEADER = (
    f"{','.join(f.label for f in features.INPUT_FEATURES)} (or {','.join(features.INPUT_NAMES)})"
)


@dataclass
class Row:
    """One record of the input file, from its line number to its audit row."""

    line: int
    cells: list[str] | None  # None when the CSV reader could not split the line
    raw: dict  # what the audit stores as the input
    item: dict | None = None  # the validated input, when it is good
    errors: dict | None = None
    record: PredictionRequest | None = None


@dataclass
class Tally:
    read: int = 0
    predicted: int = 0
    refused: int = 0
    blank: int = 0
    last_line: int = 1
    versions: Counter = field(default_factory=Counter)


class Command(BaseCommand):
    help = (
        "Predict views: `predict LIKES SHARES` for one article, or `predict --csv IN --out OUT` "
        f"for a CSV file with the header {EXPECTED_HEADER}. Every input is audited (channel cli)."
    )

    def add_arguments(self, parser):
        parser.add_argument("likes", nargs="?", help="点赞数: likes, a whole number.")
        parser.add_argument("shares", nargs="?", help="转发数: shares, a whole number.")
        parser.add_argument(
            "--csv",
            dest="csv_file",
            metavar="IN.csv",
            type=Path,
            help=f"A CSV file to predict, header {EXPECTED_HEADER}; UTF-8, with or without a BOM.",
        )
        parser.add_argument(
            "--out",
            type=Path,
            metavar="OUT.csv",
            help="Where to write each input row with its views, interval, version, record id "
            "and error (needed with --csv).",
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=CHUNK_SIZE,
            help=f"Rows per model call and bulk insert (default {CHUNK_SIZE:,}).",
        )

    def handle(self, *args, **options):
        # The sentence (its words and its digit grouping), the summary and the errors stored in
        # the audit are English whatever DJANGO_LANGUAGE_CODE says: the command's own words are
        # English, and one answer or one file speaks one language.
        with translation.override("en"):
            self._handle(**options)

    def _handle(self, *, likes, shares, csv_file, out, chunk_size, verbosity, **options):
        if csv_file is not None:
            if likes is not None or shares is not None:
                raise CommandError("Give either LIKES SHARES or --csv FILE, not both.")
            if out is None:
                raise CommandError("--csv needs --out: the file to write the predictions to.")
            if not 1 <= chunk_size <= settings.VIEWSITE_BATCH_MAX:
                raise CommandError(
                    f"--chunk-size must be from 1 to {settings.VIEWSITE_BATCH_MAX:,} "
                    "(VIEWSITE_BATCH_MAX, the largest batch the service takes)."
                )
            self._predict_file(csv_file, out, chunk_size, verbosity)
        elif likes is not None:
            self._predict_one(likes, shares)
        else:
            raise CommandError(
                "Nothing to predict. Give LIKES SHARES (e.g. `predict 500 300`) or "
                "--csv IN.csv --out OUT.csv."
            )

    # One article ---------------------------------------------------------------------------

    def _predict_one(self, likes: str, shares: str | None) -> None:
        info = _info(time.perf_counter())
        raw = {"likes": likes} if shares is None else {"likes": likes, "shares": shares}
        try:
            try:
                item = PredictionInputSerializer().run_validation(
                    {name: features.normalize_count(value) for name, value in raw.items()}
                )
            except ValidationError as error:
                errors = _plain(error.detail)
                services.record_refusal(raw_inputs=[raw], errors=[errors], info=info)
                raise CommandError(f"Refused: {_describe(errors)}") from error
            [record] = services.predict(inputs=[item], raw_inputs=[raw], info=info)
        except services.ModelUnavailable as error:  # audited by the service
            raise CommandError(str(error)) from error
        except DatabaseError as error:
            raise CommandError(
                f"The database could not be written ({error}), so nothing was predicted: "
                "every answer is audited first."
            ) from error
        self.stdout.write(_sentence(record))

    # A file --------------------------------------------------------------------------------

    def _predict_file(self, path: Path, out: Path, chunk_size: int, verbosity: int) -> None:
        if out.resolve() == path.resolve():
            raise CommandError(f"--out is the input file {path}; write the output elsewhere.")
        started = time.perf_counter()
        try:
            source = path.open("rb")
        except OSError as error:
            raise CommandError(f"{path}: cannot be read ({error.strerror or error}).") from error
        # The output keeps the input's byte order mark, which Excel needs to read Chinese.
        bom = source.peek(len(codecs.BOM_UTF8)).startswith(codecs.BOM_UTF8)
        # utf-8-sig reads a file with or without a BOM. A byte that is not UTF-8 becomes U+FFFD,
        # which fails its cell's check, so the row is refused with its line instead of the run.
        with io.TextIOWrapper(source, encoding="utf-8-sig", errors="replace", newline="") as text:
            reader = csv.reader(text)
            columns = self._columns(path, reader)
            partial = out.with_name(f"{out.name}.partial")
            try:
                sink = partial.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8")
            except OSError as error:
                raise CommandError(
                    f"{partial}: cannot be written ({error.strerror or error})."
                ) from error
            show_progress = verbosity >= 1 and self.stderr.isatty()
            with (
                sink,
                tqdm(
                    total=path.stat().st_size,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=path.name,
                    file=sys.stderr,
                    disable=not show_progress,
                ) as bar,
            ):
                writer = csv.writer(sink)
                writer.writerow(["line", *columns.header, *RESULT_COLUMNS])
                tally = Tally()
                rows = _rows(reader, path.name, tally)
                while chunk := list(islice(rows, chunk_size)):
                    self._chunk(chunk, columns, writer, tally, partial, verbosity)
                    bar.update(text.buffer.tell() - bar.n)
                    bar.set_postfix_str(f"{tally.read:,} rows", refresh=False)
        os.replace(partial, out)
        if verbosity == 1 and tally.refused > SHOWN_REFUSALS:
            self.stderr.write(
                f"… and {tally.refused - SHOWN_REFUSALS:,} more bad rows: see the error column "
                f"of {out} (or run with -v 2)."
            )
        if verbosity >= 1:
            self._summary(path, out, tally, time.perf_counter() - started)

    def _columns(self, path: Path, reader) -> "Columns":
        """The header's columns in order, or the file refused (and audited) before any row."""
        try:
            header = next(reader, None)
        except csv.Error as error:
            header, problem = [], f"line 1 (the header) is not valid CSV ({error})."
        else:
            problem = None
        if header is None:
            problem = f"the file is empty; expected the header {EXPECTED_HEADER} and rows."
        if problem is None:
            columns, problem = _match_header(header)
            if problem is None:
                return columns
        services.record_refusal(
            raw_inputs=[{"file": path.name, "header": header}],
            errors=[{"header": [problem]}],
            info=_info(None),
        )
        raise CommandError(f"{path}: {problem} Nothing was predicted.")

    def _chunk(self, chunk: list[Row], columns, writer, tally: Tally, partial: Path, verbosity):
        started = time.perf_counter()
        checker = PredictionInputSerializer()
        for row in chunk:
            if row.errors is None:
                _check(row, columns, checker)
        refused = [row for row in chunk if row.errors]
        answered = [row for row in chunk if not row.errors]
        info = _info(started)
        unavailable = None
        try:
            # The chunk is audited whole or not at all, so the output and the audit agree.
            with transaction.atomic():
                if refused:
                    records = services.record_refusal(
                        raw_inputs=[row.raw for row in refused],
                        errors=[row.errors for row in refused],
                        info=info,
                        batch=True,
                    )
                    for row, record in zip(refused, records, strict=True):
                        row.record = record
                if answered:
                    try:
                        records = services.predict(
                            inputs=[row.item for row in answered],
                            raw_inputs=[row.raw for row in answered],
                            info=info,
                            batch=True,
                        )
                    except services.ModelUnavailable as error:  # audited by the service
                        unavailable = error
                        for row in answered:
                            row.errors = {"model": [str(error)]}
                    else:
                        for row, record in zip(answered, records, strict=True):
                            row.record = record
        except DatabaseError as error:
            raise CommandError(
                f"The database could not be written ({error}), so lines {chunk[0].line:,} to "
                f"{chunk[-1].line:,} were neither predicted nor audited. The {tally.read:,} rows "
                f"up to line {tally.last_line:,} were, and are in {partial}."
            ) from error
        finally:
            # DEBUG keeps every query's SQL; a command, unlike a request, never clears them.
            reset_queries()
        for row in chunk:
            writer.writerow(_output(row, len(columns.header)))
            if row.errors:
                tally.refused += 1
                if verbosity >= 2 or (verbosity >= 1 and tally.refused <= SHOWN_REFUSALS):
                    with tqdm.external_write_mode(file=sys.stderr):
                        self.stderr.write(f"line {row.line}: {_describe(row.errors)}")
            else:
                tally.predicted += 1
                tally.versions[row.record.model_version.label] += 1
        tally.read += len(chunk)
        tally.last_line = chunk[-1].line
        if unavailable is not None:
            raise CommandError(
                f"{unavailable} Lines {chunk[0].line:,} to {chunk[-1].line:,} were audited as "
                f"refused and the rest of the file was not read; the {tally.read:,} rows up to "
                f"line {tally.last_line:,} are in {partial}."
            )

    def _summary(self, path: Path, out: Path, tally: Tally, seconds: float) -> None:
        write = self.stdout.write
        rate = tally.read / seconds if seconds > 0 else 0.0
        write(f"Read {tally.read:,} rows from {path} in {seconds:,.1f} s ({rate:,.0f} rows/s).")
        versions = ", ".join(f"{label}: {count:,}" for label, count in tally.versions.items())
        write(f"  predicted: {tally.predicted:,}" + (f" (model {versions})" if versions else ""))
        refused = f"  refused:   {tally.refused:,}"
        if tally.refused:
            write(self.style.WARNING(f"{refused} (each in the output with its line and error)"))
        else:
            write(refused)
        if tally.blank:
            write(f"  blank lines skipped: {tally.blank:,}")
        write(self.style.SUCCESS(f"Wrote {tally.read:,} rows to {out}."))


@dataclass(frozen=True)
class Columns:
    header: list[str]  # as the file spells it
    features: list[features.Feature]  # in the file's order

    def __len__(self) -> int:
        return len(self.features)


def _match_header(header: list[str]) -> tuple[Columns | None, str | None]:
    """Chinese labels or English names, in any order and case, each once: the training loader's
    reading of a header, with the unknown-field rule every door applies."""
    found = [
        next((feature for feature in features.INPUT_FEATURES if feature.heads(cell)), None)
        for cell in header
    ]
    shown = ",".join(header)[:200] or "nothing"
    if any("\ufffd" in cell for cell in header):
        return None, (
            f"line 1 (the header) is not UTF-8 text ({shown}). Save the file as UTF-8 "
            "(CSV UTF-8) and retry."
        )
    names = [feature.name if feature else cell for feature, cell in zip(found, header, strict=True)]
    unknown = features.unknown_fields(names)
    if unknown:
        problem = f"line 1 (the header): {features.unknown_fields_message(unknown)}"
        if any(features.TARGET.heads(name) for name in unknown):
            problem += (
                f" {features.TARGET.display} is what this command predicts; to train on real "
                "views use `retrain --data`, to record them use `import_outcomes`."
            )
        return None, problem
    missing = [f.display for f in features.INPUT_FEATURES if f not in found]
    if missing:
        return None, f"line 1 (the header) has {shown}; missing {', '.join(missing)}."
    repeated = [f.display for f in features.INPUT_FEATURES if found.count(f) > 1]
    if repeated:
        return None, f"line 1 (the header) has {', '.join(repeated)} more than once."
    return Columns(header=header, features=found), None


def _rows(reader, file_name: str, tally: Tally) -> Iterator[Row]:
    """The file's records, each with the line it starts on; blank lines are counted, not rows."""
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # The reader drops the rest of that line and goes on with the next one.
            yield Row(
                line,
                None,
                {"file": file_name, "line": line},
                errors={"row": [f"is not valid CSV ({error})."]},
            )
            continue
        if not cells:
            tally.blank += 1
            continue
        yield Row(line, cells, {"file": file_name, "line": line, "cells": cells})


def _check(row: Row, columns: Columns, checker: PredictionInputSerializer) -> None:
    """Validate one row by the API's rules: its serializer, reused for every row of a file."""
    if len(row.cells) != len(columns):
        spans = any("\n" in cell or "\r" in cell for cell in row.cells)
        row.errors = {
            "row": [
                f"has {len(row.cells)} cell(s); expected {len(columns)} "
                f"({', '.join(columns.header)})"
                + (" (a quote opened on this line is not closed)." if spans else ".")
            ]
        }
        return
    row.raw = {
        "file": row.raw["file"],
        "line": row.line,
        **dict(zip(columns.header, row.cells, strict=True)),
    }
    try:
        row.item = checker.run_validation(
            {
                feature.name: features.normalize_count(cell)
                for feature, cell in zip(columns.features, row.cells, strict=True)
            }
        )
    except ValidationError as error:
        row.errors = _plain(error.detail)


def _plain(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(key): [str(message) for message in messages] for key, messages in detail.items()
        }
    return {"input": [str(message) for message in detail]}


def _describe(errors: dict[str, list[str]]) -> str:
    """Errors in one line: "点赞数 (likes): A valid integer is required. 转发数 (shares): …" """
    parts = []
    for key, messages in errors.items():
        feature = features.BY_NAME.get(key)
        text = " ".join(messages)
        parts.append(f"{feature.display}: {text}" if feature else text)
    return " ".join(parts)


def _output(row: Row, width: int) -> list:
    cells = (row.cells or [])[:width]
    cells = [*cells, *[""] * (width - len(cells))]
    record = row.record
    if row.errors:
        record_id = record.pk if record is not None else ""
        return [row.line, *cells, "", "", "", "", "", record_id, _describe(row.errors)]
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


def _blank(value):
    return "" if value is None else value


def _sentence(record: PredictionRequest) -> str:
    """ "About 46,300 views (46,292.74); 9 times in 10 between 13,100 and 79,500. Model v1,
    record #12.": the form's words for the same answer."""
    version = record.model_version
    answer = f"About {about(record.views)} views ({record.views:,.2f})"
    if record.views_lower is None:
        interval = f"; model {version.label} was trained before intervals, so it gives none"
    else:
        interval = (
            f"; {times_in(version.interval_coverage)} between {about(record.views_lower)} and "
            f"{about(record.views_upper)}"
        )
    return f"{answer}{interval}. Model {version.label}, record #{record.pk}."


def _info(started: float | None) -> services.RequestInfo:
    return services.RequestInfo(channel=Channel.CLI, user_agent=USER_AGENT, started=started)
