"""Reading a training data file: the course's CSV as it is, or anything with the same columns.

The file is refused, with its name, the row and the column, rather than half-used: a model trained
on a silently mangled file would be served to people who cannot tell.
"""

import csv
import hashlib
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import features
from .errors import DatasetError

# A column may be headed by its Chinese label, as in the course file, or by its English name.
COLUMNS = (*features.INPUT_FEATURES, features.TARGET)
MIN_ROWS = 10
# How a missing value is written: the course file says NaN (as pandas writes it), others leave the
# cell empty or write NA or null.
MISSING_MARKERS = frozenset({"", "nan", "na", "n/a", "null"})


@dataclass(frozen=True)
class TrainingData:
    file_name: str
    sha256: str
    # shape (rows, len(INPUT_FEATURES)), float64, columns in INPUT_FEATURES order
    inputs: np.ndarray
    target: np.ndarray  # shape (rows,)
    rows_filled: int
    # Rows appended from recorded outcomes (`retrain --include-outcomes`), after the file's rows.
    outcome_rows: int = 0
    last_outcome_id: int | None = None

    @property
    def rows(self) -> int:
        return len(self.target)

    @property
    def file_rows(self) -> int:
        return self.rows - self.outcome_rows

    def summary(self) -> dict:
        """Where the rows came from and each column's range: what the model card shows, and what
        served inputs are compared with to tell when the model is extrapolating."""
        columns = {
            feature.name: values
            for feature, values in zip(features.INPUT_FEATURES, self.inputs.T, strict=True)
        }
        columns[features.TARGET.name] = self.target
        return {
            "file_rows": self.file_rows,
            "outcome_rows": self.outcome_rows,
            "last_outcome_id": self.last_outcome_id,
            "rows_filled": self.rows_filled,
            "columns": {
                name: {
                    "min": float(values.min()),
                    "max": float(values.max()),
                    "mean": float(values.mean()),
                    "median": float(np.median(values)),
                }
                for name, values in columns.items()
            },
        }


def load_training_data(path: Path | str) -> TrainingData:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DatasetError(f"{path}: cannot be read ({error.strerror or error}).") from error
    try:
        # utf-8-sig reads the course file's byte order mark and files without one alike.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DatasetError(
            f"{path}: line {line} is not UTF-8 text. Save the file as UTF-8 (CSV UTF-8) and retry."
        ) from error

    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True
        )
    except pd.errors.EmptyDataError as error:
        raise DatasetError(f"{path}: the file is empty; expected a header row and data.") from error
    except (pd.errors.ParserError, csv.Error) as error:
        raise DatasetError(f"{path}: not a valid CSV file ({error}).") from error

    columns = {_column_for(path, frame, feature): feature for feature in COLUMNS}
    unknown = [str(column) for column in frame.columns if column not in columns]
    if unknown:
        message = features.unknown_fields_message(unknown, allowed=COLUMNS)
        raise DatasetError(f"{path}: line 1 (the header): {message}")
    if frame.empty:
        raise DatasetError(f"{path}: the file has a header but no data rows.")
    if len(frame) < MIN_ROWS:
        raise DatasetError(
            f"{path}: only {len(frame)} data rows; at least {MIN_ROWS} are needed to train and "
            "cross-validate a model."
        )

    values = {
        feature.name: _column_values(
            path, column, frame[column], feature, allow_blank=feature is features.SHARES
        )
        for column, feature in columns.items()
    }

    # The course fills a blank 转发数 with the article's 点赞数; so do we, and report how often.
    shares = values[features.SHARES.name]
    blank_shares = np.isnan(shares)
    shares[blank_shares] = values[features.LIKES.name][blank_shares]

    return TrainingData(
        file_name=path.name,
        sha256=hashlib.sha256(raw).hexdigest(),
        inputs=np.column_stack([values[f.name] for f in features.INPUT_FEATURES]),
        target=values[features.TARGET.name],
        rows_filled=int(blank_shares.sum()),
    )


def _column_for(path: Path, frame: pd.DataFrame, feature: features.Feature) -> str:
    matches = [column for column in frame.columns if feature.heads(column)]
    if not matches:
        found = ", ".join(str(c) for c in frame.columns) or "nothing"
        raise DatasetError(
            f"{path}: missing column {feature.label} (or {feature.name}); the header has {found}."
        )
    if len(matches) > 1:
        raise DatasetError(
            f"{path}: column {feature.label} appears more than once ({', '.join(matches)})."
        )
    return matches[0]


def _column_values(
    path: Path, column: str, cells: pd.Series, feature: features.Feature, *, allow_blank: bool
) -> np.ndarray:
    """The column as float64, NaN where a blank is allowed; a bad cell raises DatasetError."""
    values = np.empty(len(cells), dtype="float64")
    for row, cell in enumerate(cells, start=1):
        text = cell.strip()
        if text.lower() in MISSING_MARKERS:
            if not allow_blank:
                raise _cell_error(
                    path, row, column, cell, "is blank; only 转发数 may be left blank"
                )
            values[row - 1] = math.nan
            continue
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise _cell_error(path, row, column, cell, "is not a number")
        problem = feature.bound_problem(number)
        if problem is None and not number.is_integer():
            problem = "is not a whole number"
        if problem is not None:
            raise _cell_error(path, row, column, cell, problem)
        values[row - 1] = number
    return values


def _cell_error(path: Path, row: int, column: str, cell: str, problem: str) -> DatasetError:
    # Row 1 is the first data row; the header is line 1 of the file, so the row sits on line row+1.
    return DatasetError(f"{path}: row {row} (line {row + 1}), column {column}: {cell!r} {problem}.")
