"""Predict from the command line: one article, or a CSV file of any size.

A door like the form and the API: it reads the arguments or names the file, and the core does
the rest. One article is read by services.read_input, as every door reads an input, answered
through services.predict and audited with the `cli` channel, or audited as refused. A file is
predicted by services.batches (its header, chunks of one model call and one bulk insert, a
refused 浏览量 column); this writes each chunk's rows to the output as they come, so a million
rows take the same memory as a thousand, shows progress on a terminal and prints the summary.
"""

import csv
import gc
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import translation
from tqdm import tqdm

from predictor import services
from predictor.display import about, times_in
from predictor.models import Channel
from predictor.refusals import render
from predictor.services import batches
from predictor.services.batches import CHUNK_SIZE, EXPECTED_HEADER
from predictor.services.csv_files import CsvRefused

# Bad rows named on stderr at verbosity 1 (all of them at -v 2); every one is in the output.
SHOWN_REFUSALS = 20
USER_AGENT = "manage.py predict"


@dataclass
class Tally:
    read: int = 0
    predicted: int = 0
    refused: int = 0
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
                item = services.read_input(raw)
            except services.InputRefused as refused:
                services.record_refusal(raw_inputs=[raw], errors=[refused.errors], info=info)
                raise CommandError(f"Refused: {batches.describe(refused.errors)}") from refused
            [record] = services.predict(inputs=[item], raw_inputs=[raw], info=info)
        except services.ModelUnavailable as error:  # audited by the service
            raise CommandError(str(error)) from error
        except DatabaseError as error:
            # Every answer is audited first, so without the database there is none.
            raise CommandError(f"{render('database_unavailable')} ({error})") from error
        self.stdout.write(_sentence(record))

    # A file --------------------------------------------------------------------------------

    def _predict_file(self, path: Path, out: Path, chunk_size: int, verbosity: int) -> None:
        if out.resolve() == path.resolve():
            raise CommandError(f"--out is the input file {path}; write the output elsewhere.")
        started = time.perf_counter()
        try:
            table = batches.open_input_file(path, info=_info(None))
        except CsvRefused as refused:  # audited by the service
            raise CommandError(f"{refused} Nothing was predicted.") from refused
        with table:
            partial = out.with_name(f"{out.name}.partial")
            try:
                # The output keeps the input's byte order mark, which Excel needs to read Chinese.
                sink = partial.open("w", newline="", encoding="utf-8-sig" if table.bom else "utf-8")
            except OSError as error:
                raise CommandError(
                    f"{partial}: cannot be written ({error.strerror or error})."
                ) from error
            show_progress = verbosity >= 1 and self.stderr.isatty()
            with (
                sink,
                tqdm(
                    total=table.size,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=path.name,
                    file=sys.stderr,
                    disable=not show_progress,
                ) as bar,
            ):
                writer = csv.writer(sink)
                writer.writerow(batches.output_header(table))
                tally = Tally()
                # What this process holds before the file (Django, the model, numpy) is never
                # garbage: out of the collector's sight, each collection the chunks' objects set
                # off scans only those (a fifth of the file's CPU otherwise; bench/README.md).
                # Here, not in the service: a long-lived worker must keep collecting it all.
                gc.freeze()
                chunks = batches.predict_file(table, chunk_size=chunk_size, info=_info(None))
                try:
                    for chunk in chunks:
                        self._write_chunk(chunk, writer, tally, verbosity)
                        bar.update(table.position() - bar.n)
                        bar.set_postfix_str(f"{tally.read:,} rows", refresh=False)
                        if chunk.unavailable is not None:
                            raise CommandError(
                                f"{chunk.unavailable} Lines {chunk.first_line:,} to "
                                f"{chunk.last_line:,} were audited as refused and the rest "
                                f"of the file was not read; the {tally.read:,} rows up to line "
                                f"{tally.last_line:,} are in {partial}."
                            )
                except batches.ChunkNotAudited as error:
                    raise CommandError(
                        f"The database could not be written ({error}), so lines "
                        f"{error.first_line:,} to {error.last_line:,} were neither predicted nor "
                        f"audited. The {tally.read:,} rows up to line {tally.last_line:,} were, "
                        f"and are in {partial}."
                    ) from error
            blank = table.blank
        os.replace(partial, out)
        if verbosity == 1 and tally.refused > SHOWN_REFUSALS:
            self.stderr.write(
                f"… and {tally.refused - SHOWN_REFUSALS:,} more bad rows: see the error column "
                f"of {out} (or run with -v 2)."
            )
        if verbosity >= 1:
            self._summary(path, out, tally, blank, time.perf_counter() - started)

    def _write_chunk(self, chunk, writer, tally: Tally, verbosity: int) -> None:
        writer.writerows(chunk.rows)
        for line, errors in chunk.refused:
            tally.refused += 1
            if verbosity >= 2 or (verbosity >= 1 and tally.refused <= SHOWN_REFUSALS):
                with tqdm.external_write_mode(file=sys.stderr):
                    self.stderr.write(f"line {line}: {batches.describe(errors)}")
        tally.predicted += chunk.predicted
        if chunk.predicted:
            tally.versions[chunk.version] += chunk.predicted
        tally.read += len(chunk.rows)
        tally.last_line = chunk.last_line

    def _summary(self, path: Path, out: Path, tally: Tally, blank: int, seconds: float) -> None:
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
        if blank:
            write(f"  blank lines skipped: {blank:,}")
        write(self.style.SUCCESS(f"Wrote {tally.read:,} rows to {out}."))


def _sentence(record: services.Answer) -> str:
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
    sentence = f"{answer}{interval}. Model {version.label}, record #{record.pk}."
    # Outside the training range, the service's sentence that says so.
    return f"{sentence} {record.extrapolation}" if record.extrapolated else sentence


def _info(started: float | None) -> services.RequestInfo:
    return services.RequestInfo(channel=Channel.CLI, user_agent=USER_AGENT, started=started)
