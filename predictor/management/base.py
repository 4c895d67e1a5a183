"""What every viewsite command shares: it speaks the reader's language, and its standard output
is its answer.

A command answers in settings.LANGUAGE_CODE (DJANGO_LANGUAGE_CODE), as the pages do by default,
or in the language `--language` names, for the person at this terminal who reads the other one.
The whole run happens in that language, so the command's own sentences, the core's refusals and
the numbers (display.py) all agree: one answer never mixes two.

Log lines go to standard error (settings.LOGGING), so a pipe or a script reading stdout gets the
answer alone. Progress goes to standard error too: `progress_bar` draws a bar on a terminal with
the log lines written above it rather than through it, and `progress_line` writes whole lines,
which a log line can only come before or after, when stderr is a file or a pipe.
"""

import sys
import unicodedata
from contextlib import contextmanager

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from predictor.models import ModelVersion


class ViewsiteCommand(BaseCommand):
    """The base of every viewsite command: `--language`, the run in that language, and the
    progress helpers. Django documents create_parser and execute as the places to extend."""

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        codes = [code for code, _name in settings.LANGUAGES]
        parser.add_argument(
            "--language",
            choices=codes,
            default=None,
            help=f"The language to answer in (default: DJANGO_LANGUAGE_CODE, now "
            f"{settings.LANGUAGE_CODE}).",
        )
        return parser

    def execute(self, *args, **options):
        with translation.override(options.get("language") or settings.LANGUAGE_CODE):
            return super().execute(*args, **options)

    def progress_line(self, text: str, *, verbosity: int) -> None:
        """One step done, as a whole line on stderr: what a person watching a long run reads
        between two log lines, never inside one."""
        if verbosity >= 1:
            self.stderr.write(text)

    @contextmanager
    def progress_bar(self, *, verbosity: int, **bar_options):
        """A tqdm bar on stderr, only on a terminal and at verbosity 1 or more (a disabled bar
        otherwise, which costs nothing). While it runs, the console's log lines go through
        tqdm.write, which clears the bar, writes the line and draws the bar again below it."""
        shown = verbosity >= 1 and self.stderr.isatty()
        with tqdm(disable=not shown, file=sys.stderr, **bar_options) as bar:
            if not shown:
                yield bar
                return
            with logging_redirect_tqdm():
                yield bar


def width(text: str) -> int:
    """How many terminal columns `text` takes: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def table(rows: list[tuple[str, ...]], *, left: int = 1) -> list[str]:
    """Rows of cells as aligned lines: the first `left` columns left-aligned, the figures
    right-aligned, each column as wide as its widest cell (a translated heading included) and
    two spaces between columns. str.ljust counts characters, not columns, so it would leave
    Chinese headings out of line with the figures under them."""
    widths = [max(width(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = []
        for column, (cell, room) in enumerate(zip(row, widths, strict=True)):
            spaces = " " * (room - width(cell))
            cells.append(cell + spaces if column < left else spaces + cell)
        lines.append("  ".join(cells).rstrip())
    return lines


def pad(text: str, columns: int) -> str:
    """`text` right-aligned in `columns` terminal columns: a count at the start of a line."""
    return " " * (columns - width(text)) + text


def stored_version(label: str, *, returncode: int = 1) -> ModelVersion:
    """The stored version `label` (v3, or 3) names; CommandError saying which exist otherwise,
    exiting with `returncode` (drift keeps 1 for "drifted")."""
    number = ModelVersion.number_from_label(label)
    if number is None:
        raise CommandError(
            gettext("“%(version)s” is not a version; use a label like v3.") % {"version": label},
            returncode=returncode,
        )
    try:
        return ModelVersion.objects.get(number=number)
    except ModelVersion.DoesNotExist:
        known = ", ".join(v.label for v in ModelVersion.objects.all()) or gettext("none yet")
        raise CommandError(
            gettext("There is no version %(version)s. Stored versions: %(known)s.")
            % {"version": label, "known": known},
            returncode=returncode,
        ) from None
