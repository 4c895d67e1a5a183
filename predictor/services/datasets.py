"""Reading a training data file: the course's CSV as it is, or anything with the same columns.

The file is read by csv_files and each count by counts.read_count, as at every door; it is
refused, with its name, the line and the column, rather than half-used: a model trained
on a silently mangled file would be served to people who cannot tell.
"""

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import features
from ..counts import CountRefused, is_missing, read_count
from ..refusals import Refusal
from . import csv_files
from .csv_files import CsvFile, CsvRefused, located
from .errors import DatasetError
from .outcomes import OUTCOME_VIEWS_MAX

MIN_ROWS = 10
# Each column's bounds, in the order of the row: the inputs as every door bounds them, the real
# views as recorded outcomes are bounded, since they are the same figure.
BOUNDS = {
    csv_files.LIKES: (features.LIKES.min_value, features.LIKES.max_value),
    csv_files.SHARES: (features.SHARES.min_value, features.SHARES.max_value),
    csv_files.VIEWS: (0, OUTCOME_VIEWS_MAX),
}


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
        served inputs are compared with to tell when the model is extrapolating.

        Each input's exact value counts too, [[value, count], ...] in value order: what the
        inputs a version answers are compared with to tell drift (services/drift.py). Inputs are
        whole numbers from 0 to FEATURE_MAX, so the list is bounded whatever the file's size."""
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
            "distributions": {
                feature.name: [
                    [int(value), int(times)]
                    for value, times in zip(*np.unique(values, return_counts=True), strict=True)
                ]
                for feature, values in zip(features.INPUT_FEATURES, self.inputs.T, strict=True)
            },
        }


def load_training_data(path: Path | str) -> TrainingData:
    """The file's rows, or DatasetError naming the file, the line and the column of the first
    problem (csv_files reads the header and the lines; counts.read_count each cell)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        refusal = Refusal("file_unreadable", {"reason": str(error.strerror or error)})
        raise DatasetError(located(refusal, file=path)) from error
    try:
        rows = list(_rows(path))
    except CsvRefused as refused:
        raise DatasetError(str(refused)) from refused
    if not rows:
        raise DatasetError(located(Refusal("no_rows"), file=path))
    if len(rows) < MIN_ROWS:
        refusal = Refusal("too_few_rows", {"rows": len(rows), "minimum": MIN_ROWS})
        raise DatasetError(located(refusal, file=path))
    table = np.array(rows, dtype="float64")
    inputs, target = table[:, : len(features.INPUT_FEATURES)], table[:, -1]

    # The course fills a blank 转发数 with the article's 点赞数; so do we, and report how often.
    # Only here: every other door refuses a blank count.
    shares = inputs[:, features.INPUT_FEATURES.index(features.SHARES)]
    blank_shares = np.isnan(shares)
    shares[blank_shares] = inputs[blank_shares, features.INPUT_FEATURES.index(features.LIKES)]

    return TrainingData(
        file_name=path.name,
        sha256=hashlib.sha256(raw).hexdigest(),
        inputs=inputs,
        target=target,
        rows_filled=int(blank_shares.sum()),
    )


def _rows(path: Path):
    """Each line as (likes, shares, views), shares NaN where it is blank."""
    with CsvFile(path, csv_files.TRAINING_COLUMNS) as table:
        for line in table.lines():
            row = []
            for column, (minimum, maximum) in BOUNDS.items():
                cell = line.cells[column.name]
                if column is csv_files.SHARES and is_missing(cell):
                    row.append(math.nan)
                    continue
                try:
                    row.append(read_count(cell, minimum=minimum, maximum=maximum))
                except CountRefused as refused:
                    raise CsvRefused(
                        refused.refusal, file=path, line=line.number, column=column
                    ) from refused
            yield row
