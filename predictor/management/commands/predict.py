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
from django.core.management.base import CommandError
from django.db import DatabaseError
from django.utils.translation import gettext
from tqdm import tqdm

from predictor import services
from predictor.display import about, count, seconds, times_in
from predictor.management.base import ViewsiteCommand
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


class Command(ViewsiteCommand):
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

    def handle(self, *, likes, shares, csv_file, out, chunk_size, verbosity, **options):
        # The whole run speaks one language (ViewsiteCommand): the sentence, the summary and the
        # file's error column. The audit stores refusals as codes, in no language.
        if csv_file is not None:
            if likes is not None or shares is not None:
                raise CommandError(gettext("Give either LIKES SHARES or --csv FILE, not both."))
            if out is None:
                raise CommandError(
                    gettext("--csv needs --out: the file to write the predictions to.")
                )
            if not 1 <= chunk_size <= settings.VIEWSITE_BATCH_MAX:
                raise CommandError(
                    gettext(
                        "--chunk-size must be from 1 to %(limit)s (VIEWSITE_BATCH_MAX, the "
                        "largest batch the service takes)."
                    )
                    % {"limit": count(settings.VIEWSITE_BATCH_MAX)}
                )
            self._predict_file(csv_file, out, chunk_size, verbosity)
        elif likes is not None:
            self._predict_one(likes, shares)
        else:
            raise CommandError(
                gettext(
                    "Nothing to predict. Give LIKES SHARES (e.g. `predict 500 300`) or "
                    "--csv IN.csv --out OUT.csv."
                )
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
                raise CommandError(
                    gettext("Refused: %(errors)s") % {"errors": batches.describe(refused.errors)}
                ) from refused
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
            raise CommandError(
                gettext("--out is the input file %(path)s; write the output elsewhere.")
                % {"path": path}
            )
        started = time.perf_counter()
        try:
            table = batches.open_input_file(path, info=_info(None))
        except CsvRefused as refused:  # audited by the service
            raise CommandError(
                gettext("%(refusal)s Nothing was predicted.") % {"refusal": refused}
            ) from refused
        with table:
            partial = out.with_name(f"{out.name}.partial")
            try:
                # The output keeps the input's byte order mark, which Excel needs to read Chinese.
                sink = partial.open("w", newline="", encoding="utf-8-sig" if table.bom else "utf-8")
            except OSError as error:
                raise CommandError(
                    gettext("%(path)s: cannot be written (%(reason)s).")
                    % {"path": partial, "reason": error.strerror or error}
                ) from error
            with (
                sink,
                self.progress_bar(
                    verbosity=verbosity,
                    total=table.size,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=path.name,
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
                        bar.set_postfix_str(
                            gettext("%(rows)s rows") % {"rows": count(tally.read)}, refresh=False
                        )
                        if chunk.unavailable is not None:
                            raise CommandError(
                                gettext(
                                    "%(reason)s Lines %(first)s to %(last)s were audited as "
                                    "refused and the rest of the file was not read; the "
                                    "%(rows)s rows up to line %(line)s are in %(path)s."
                                )
                                % {
                                    "reason": chunk.unavailable,
                                    "first": count(chunk.first_line),
                                    "last": count(chunk.last_line),
                                    "rows": count(tally.read),
                                    "line": count(tally.last_line),
                                    "path": partial,
                                }
                            )
                except batches.ChunkNotAudited as error:
                    raise CommandError(
                        gettext(
                            "The database could not be written (%(reason)s), so lines %(first)s "
                            "to %(last)s were neither predicted nor audited. The %(rows)s rows "
                            "up to line %(line)s were, and are in %(path)s."
                        )
                        % {
                            "reason": error,
                            "first": count(error.first_line),
                            "last": count(error.last_line),
                            "rows": count(tally.read),
                            "line": count(tally.last_line),
                            "path": partial,
                        }
                    ) from error
            blank = table.blank
        os.replace(partial, out)
        if verbosity == 1 and tally.refused > SHOWN_REFUSALS:
            self.stderr.write(
                gettext(
                    "… and %(count)s more bad rows: see the error column of %(path)s (or run "
                    "with -v 2)."
                )
                % {"count": count(tally.refused - SHOWN_REFUSALS), "path": out}
            )
        if verbosity >= 1:
            self._summary(path, out, tally, blank, time.perf_counter() - started)

    def _write_chunk(self, chunk, writer, tally: Tally, verbosity: int) -> None:
        writer.writerows(chunk.rows)
        for line, errors in chunk.refused:
            tally.refused += 1
            if verbosity >= 2 or (verbosity >= 1 and tally.refused <= SHOWN_REFUSALS):
                with tqdm.external_write_mode(file=sys.stderr):
                    self.stderr.write(
                        gettext("line %(line)s: %(errors)s")
                        % {"line": count(line), "errors": batches.describe(errors)}
                    )
        tally.predicted += chunk.predicted
        if chunk.predicted:
            tally.versions[chunk.version] += chunk.predicted
        tally.read += len(chunk.rows)
        tally.last_line = chunk.last_line

    def _summary(self, path: Path, out: Path, tally: Tally, blank: int, took: float) -> None:
        write = self.stdout.write
        rate = tally.read / took if took > 0 else 0.0
        write(
            gettext("Read %(rows)s rows from %(path)s in %(took)s (%(rate)s rows/s).")
            % {"rows": count(tally.read), "path": path, "took": seconds(took), "rate": count(rate)}
        )
        versions = ", ".join(f"{label}: {count(n)}" for label, n in tally.versions.items())
        if versions:
            write(
                gettext("  predicted: %(count)s (model %(versions)s)")
                % {"count": count(tally.predicted), "versions": versions}
            )
        else:
            write(gettext("  predicted: %(count)s") % {"count": count(tally.predicted)})
        if tally.refused:
            write(
                self.style.WARNING(
                    gettext("  refused:   %(count)s (each in the output with its line and error)")
                    % {"count": count(tally.refused)}
                )
            )
        else:
            write(gettext("  refused:   %(count)s") % {"count": count(tally.refused)})
        if blank:
            write(gettext("  blank lines skipped: %(count)s") % {"count": count(blank)})
        write(
            self.style.SUCCESS(
                gettext("Wrote %(rows)s rows to %(path)s.")
                % {"rows": count(tally.read), "path": out}
            )
        )


def _sentence(record: services.Answer) -> str:
    """ "About 46,300 views (46,293); 9 times in 10 between 13,100 and 79,500. Model v1,
    record #12.": the form's words for the same answer, in the reader's language."""
    version = record.model_version
    figures = {
        "views": about(record.views),
        "exact": count(record.views),
        "version": version.label,
        "pk": record.pk,
    }
    if record.views_lower is None:
        sentence = (
            gettext(
                "About %(views)s views (%(exact)s); model %(version)s was trained before "
                "intervals, so it gives none. Record #%(pk)s."
            )
            % figures
        )
    else:
        sentence = gettext(
            "About %(views)s views (%(exact)s); %(often)s between %(lower)s and %(upper)s. "
            "Model %(version)s, record #%(pk)s."
        ) % {
            **figures,
            "often": times_in(version.interval_coverage),
            "lower": about(record.views_lower),
            "upper": about(record.views_upper),
        }
    if not record.extrapolated:
        return sentence
    # Outside the training range, the service's sentence that says so (a space between two
    # sentences in English, none in Chinese).
    return gettext("%(answer)s %(extrapolation)s") % {
        "answer": sentence,
        "extrapolation": record.extrapolation,
    }


def _info(started: float | None) -> services.RequestInfo:
    return services.RequestInfo(channel=Channel.CLI, user_agent=USER_AGENT, started=started)
