"""CSV files as people send them: which header names each column may have, and the reading of a
file into numbered lines of cells by column, or its refusal naming the file, the line and the
column.

`retrain --data` (datasets), `predict --csv` (batches) and `import_outcomes` (outcomes) all read
through `CsvFile`, so a header, a byte order mark, a blank line, a repeated or unknown column
means the same thing, and is refused in the same words, whichever file it is in. The cells stay
text: each door's service reads a count through counts.read_count.
"""

import codecs
import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext

from .. import display, features
from ..refusals import Refusal, quoted
from .errors import ViewsiteError


@dataclass(frozen=True)
class Column:
    """A column of a data file: its English name (the key of its cells), its Chinese header, and
    the other headers people give it."""

    name: str
    label: str
    aliases: tuple[str, ...] = ()

    @property
    def display(self) -> str:
        return f"{self.label} ({self.name})"

    def heads(self, header_cell: str) -> bool:
        """Whether a header cell names this column, in any case and with spaces around."""
        return header_cell.strip().lower() in {self.label, self.name, *self.aliases}


def _feature_column(feature: features.Feature, *aliases: str) -> Column:
    return Column(feature.name, feature.label, aliases)


LIKES = _feature_column(features.LIKES)
SHARES = _feature_column(features.SHARES)
VIEWS = _feature_column(features.TARGET, "actual_views", "真实浏览量")
PREDICTION_ID = Column("prediction_id", "预测编号", ("prediction", "id", "编号"))

INPUT_COLUMNS = (LIKES, SHARES)
TRAINING_COLUMNS = (LIKES, SHARES, VIEWS)
OUTCOME_COLUMNS = (PREDICTION_ID, VIEWS)
ALL_COLUMNS = (LIKES, SHARES, VIEWS, PREDICTION_ID)


def header_text(columns: Sequence[Column]) -> str:
    """The header a file needs, for help texts and messages: "点赞数,转发数 (or likes,shares)"."""
    return (
        f"{','.join(column.label for column in columns)} "
        f"(or {','.join(column.name for column in columns)})"
    )


def located(problem, *, file=None, line: int | None = None, column: Column | None = None) -> str:
    """A problem with where it is, in the active language: "a.csv: line 3, column 点赞数 (likes):
    “1,5” is not a whole number: …"."""
    text = str(problem)
    if line is not None and column is not None:
        text = gettext("line %(line)s, column %(column)s: %(problem)s") % {
            "line": display.count(line),
            "column": column.display,
            "problem": text,
        }
    elif line is not None:
        text = gettext("line %(line)s: %(problem)s") % {
            "line": display.count(line),
            "problem": text,
        }
    return f"{file}: {text}" if file is not None else text


class CsvRefused(ViewsiteError):
    """A file that cannot be read as the door's columns, or a cell refused, with where."""

    def __init__(
        self, refusal: Refusal, *, file, line: int | None = None, column=None, header=None
    ):
        self.refusal = refusal
        self.file = file
        self.line = line
        self.column = column
        self.header = header  # the header as read, when it is the header that is refused
        super().__init__(located(refusal, file=file, line=line, column=column))


@dataclass(slots=True)
class Line:
    """One record of a file: the line it starts on and its cells by column name, or why it could
    not be split into the columns (then `cells` is empty and `raw` is what was read)."""

    number: int
    cells: dict[str, str]
    raw: list[str]
    refusal: Refusal | None = None


class CsvFile:
    """A CSV file opened for `columns`, its header checked; iterate it for its Lines.

    Used as a context manager. The header is refused (CsvRefused, line 1) when a column is
    missing, repeated or unknown; a column of `refused` is refused with the refusal code
    `refused_code` (needed with `refused`), whose sentence says which door the file belongs to.
    The text is UTF-8 with or without a byte order mark (`bom` says which, for an output that
    keeps it). A byte that is not UTF-8 refuses its line, not the read, so a streaming door can
    go on; a blank line is counted (`blank`), not yielded.
    """

    def __init__(
        self,
        path: Path | str,
        columns: Sequence[Column],
        *,
        refused: Sequence[Column] = (),
        refused_code: str = "",
    ):
        self.path = Path(path)
        self.columns_wanted = tuple(columns)
        self.refused = tuple(refused)
        self.refused_code = refused_code
        self.blank = 0
        try:
            self._binary = self.path.open("rb")
        except OSError as error:
            raise self._refused(
                Refusal("file_unreadable", {"reason": quoted(error.strerror or error)})
            ) from error
        self.bom = self._binary.peek(len(codecs.BOM_UTF8)).startswith(codecs.BOM_UTF8)
        # utf-8-sig reads a file with or without a BOM; a byte that is not UTF-8 becomes U+FFFD,
        # which refuses its line (below) instead of stopping a streamed file half-way.
        self._text = io.TextIOWrapper(
            self._binary, encoding="utf-8-sig", errors="replace", newline=""
        )
        self._reader = csv.reader(self._text)
        try:
            self.header, self.columns = self._read_header()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "CsvFile":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._text.close()

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def position(self) -> int:
        """Bytes read so far, for a progress bar."""
        return self._binary.tell()

    def _refused(self, refusal: Refusal, line: int | None = None, column=None) -> CsvRefused:
        return CsvRefused(
            refusal, file=self.path, line=line, column=column, header=getattr(self, "header", None)
        )

    def _read_header(self) -> tuple[list[str], list[Column]]:
        try:
            header = next(self._reader, None)
        except csv.Error as error:
            raise self._refused(Refusal("not_csv", {"reason": quoted(error)}), 1) from error
        if header is None:
            expected = header_text(self.columns_wanted)
            raise self._refused(Refusal("file_empty", {"expected": expected}))
        self.header = header
        if any("\ufffd" in cell for cell in header):
            raise self._refused(Refusal("not_utf8"), 1)
        shown = ",".join(header)[:200] or "—"
        found = [
            next((column for column in ALL_COLUMNS if column.heads(cell)), None) for cell in header
        ]
        for column in found:
            if column is not None and column in self.refused:
                raise self._refused(
                    Refusal(self.refused_code, {"column": column.display}),
                    1,
                )
        unknown = [
            cell.strip()
            for cell, column in zip(header, found, strict=True)
            if column not in self.columns_wanted
        ]
        if unknown:
            listed = ", ".join(quoted(name)[:40] for name in unknown[:5])
            accepted = ", ".join(column.display for column in self.columns_wanted)
            raise self._refused(
                Refusal("column_unknown", {"columns": listed, "accepted": accepted}), 1
            )
        for column in self.columns_wanted:
            if column not in found:
                raise self._refused(
                    Refusal("column_missing", {"column": column.display, "found": shown}), 1
                )
            if found.count(column) > 1:
                raise self._refused(
                    Refusal("column_repeated", {"column": column.display, "found": shown}), 1
                )
        return header, found

    def __iter__(self) -> Iterator[Line]:
        width = len(self.columns)
        names = [column.name for column in self.columns]
        while True:
            number = self._reader.line_num + 1
            try:
                raw = next(self._reader)
            except StopIteration:
                return
            except csv.Error as error:
                # The reader drops the rest of that line and goes on with the next one.
                yield Line(number, {}, [], Refusal("not_csv", {"reason": quoted(error)}))
                continue
            # An empty line, or one of empty cells as a spreadsheet saves an empty row: no data,
            # so counted rather than refused. (One string for the line's checks: a million lines
            # are checked.)
            joined = "".join(raw)
            if not joined or joined.isspace():
                self.blank += 1
                continue
            if len(raw) != width:
                spans = any("\n" in cell or "\r" in cell for cell in raw)
                params = {
                    "count": len(raw),
                    "expected": width,
                    "columns": ", ".join(self.header),
                }
                yield Line(number, {}, raw, Refusal("unclosed_quote" if spans else "cells", params))
                continue
            if "\ufffd" in joined:
                yield Line(number, {}, raw, Refusal("not_utf8"))
                continue
            yield Line(number, dict(zip(names, raw, strict=True)), raw)

    def lines(self) -> Iterator[Line]:
        """Every line, or CsvRefused at the first one that cannot be split into the columns: for
        a door that takes a file whole or not at all."""
        for line in self:
            if line.refusal is not None:
                raise self._refused(line.refusal, line.number)
            yield line
