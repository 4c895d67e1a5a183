"""Real outcomes: the view count an article really reached, recorded against its prediction.

Every door (the API, `import_outcomes`, the admin) records through `record_outcomes`, which
checks every item first and writes all of them or none. An outcome is a row of its own: the audit
row it answers stays as it was, and a later outcome for the same prediction supersedes the earlier
one without erasing it (Outcome.objects.latest_per_prediction()).
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from .. import display, features
from ..counts import CountRefused, read_count
from ..models import Channel, Outcome, PredictionRequest
from ..refusals import Refusal
from . import audit_writes, csv_files
from .csv_files import CsvFile, CsvRefused
from .errors import ViewsiteError

logger = logging.getLogger(__name__)

# WeChat counts stop being shown exactly at 100,000; nothing real comes near a billion.
OUTCOME_VIEWS_MAX = 1_000_000_000
# Beyond any id the audit table will reach, and below the 10**18 that read_count returns for
# longer digit strings, so those are refused rather than looked up.
PREDICTION_ID_MAX = 10**18 - 1


@dataclass(frozen=True)
class OutcomeItem:
    """One outcome to record, and where it came from (a file's line number, for the report)."""

    prediction_id: object
    views: object
    line: int | None = None


@dataclass(frozen=True)
class Problem:
    line: int | None
    prediction_id: object
    message: str
    code: str  # invalid, not_found or not_answered: each door maps it to its own answer
    # For an invalid value: why (a count's refusal) and which column, as every file door says it.
    refusal: Refusal | None = None
    column: csv_files.Column | None = None

    def __str__(self) -> str:
        return csv_files.located(self.message, line=self.line, column=self.column)

    @property
    def sentence(self) -> str:
        """The message on its own, as a sentence: for a door that answers one item."""
        if self.message.endswith("."):
            return self.message
        return f"{self.message[0].upper()}{self.message[1:]}."


class OutcomesRefused(ViewsiteError):
    """Some outcomes cannot be recorded; none were. Carries every problem found."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        shown = gettext("; ").join(map(str, self.problems[:20]))
        if len(self.problems) > 20:
            shown = gettext("%(problems)s; and %(count)s more") % {
                "problems": shown,
                "count": display.count(len(self.problems) - 20),
            }
        super().__init__(gettext("Nothing was recorded. %(problems)s.") % {"problems": shown})


def record_outcomes(
    items: Iterable[OutcomeItem],
    *,
    source: Outcome.Source,
    user_id: int | None = None,
    note: str = "",
) -> list[Outcome]:
    """Check every item, then record them all in one transaction; OutcomesRefused otherwise."""
    checked, problems = check_outcomes(items)
    if problems:
        raise OutcomesRefused(problems)
    shared = {
        "recorded_at": timezone.now(),
        "source": source,
        "user_id": user_id,
        "note": note[: Outcome.NOTE_MAX],
    }
    with transaction.atomic():
        ids = audit_writes.write_rows(Outcome, ("prediction_id", "views"), checked, shared=shared)
    outcomes = [
        Outcome(pk=pk, prediction_id=prediction_id, views=views, **shared)
        for pk, (prediction_id, views) in zip(ids, checked, strict=True)
    ]
    logger.info("outcomes recorded source=%s count=%d user=%s", source, len(outcomes), user_id)
    return outcomes


def check_outcomes(items: Iterable[OutcomeItem]) -> tuple[list[tuple[int, int]], list[Problem]]:
    """The (prediction id, views) pairs that can be recorded, and the problem with each other item:
    a value that is not a whole number in range, an unknown prediction, a refused one or a
    preview."""
    problems: list[Problem] = []
    candidates: list[tuple[OutcomeItem, int, int]] = []
    for item in items:
        prediction_id, views, problem = _checked(item)
        if problem:
            problems.append(problem)
        else:
            candidates.append((item, prediction_id, views))
    accepted, previews = _accepted_by_id({prediction_id for _, prediction_id, _ in candidates})
    checked = []
    for item, prediction_id, views in candidates:
        if prediction_id not in accepted:
            message = gettext("there is no prediction #%(id)s") % {"id": prediction_id}
            code = "not_found"
        elif not accepted[prediction_id]:
            message = gettext(
                "prediction #%(id)s was refused, so it has no answer to compare with"
            ) % {"id": prediction_id}
            code = "not_answered"
        elif prediction_id in previews:
            message = gettext(
                "prediction #%(id)s was a preview while typing, so nobody kept its answer to "
                "compare with"
            ) % {"id": prediction_id}
            code = "not_answered"
        else:
            checked.append((prediction_id, views))
            continue
        problems.append(Problem(item.line, prediction_id, message, code))
    problems.sort(key=lambda problem: (problem.line is None, problem.line or 0))
    return checked, problems


def _checked(item: OutcomeItem) -> tuple[int | None, int | None, Problem | None]:
    for column, value, (minimum, maximum) in (
        (csv_files.PREDICTION_ID, item.prediction_id, (1, PREDICTION_ID_MAX)),
        (csv_files.VIEWS, item.views, (0, OUTCOME_VIEWS_MAX)),
    ):
        try:
            read_count(value, minimum=minimum, maximum=maximum)
        except CountRefused as refused:
            problem = Problem(
                item.line,
                item.prediction_id,
                str(refused.refusal),
                "invalid",
                refused.refusal,
                column,
            )
            return None, None, problem
    prediction_id = read_count(item.prediction_id, minimum=1, maximum=PREDICTION_ID_MAX)
    return prediction_id, read_count(item.views, minimum=0, maximum=OUTCOME_VIEWS_MAX), None


def _accepted_by_id(ids: set[int]) -> tuple[dict[int, bool], set[int]]:
    """Which of `ids` exist, whether each was answered, and which were previews, asked in
    bounded chunks."""
    accepted: dict[int, bool] = {}
    previews: set[int] = set()
    ordered = sorted(ids)
    for start in range(0, len(ordered), 900):  # under SQLite's 999 parameters
        chunk = ordered[start : start + 900]
        for pk, answered, channel in PredictionRequest.objects.filter(pk__in=chunk).values_list(
            "pk", "accepted", "channel"
        ):
            accepted[pk] = answered
            if channel == Channel.PREVIEW:
                previews.add(pk)
    return accepted, previews


def read_outcomes_file(path: Path | str) -> list[OutcomeItem]:
    """The items of an outcomes CSV (a prediction id and the real views per line), with their line
    numbers; OutcomesRefused naming the file and the line for a file that cannot be read as those
    two columns (csv_files). The cells are read as counts when the items are checked."""
    try:
        with CsvFile(path, csv_files.OUTCOME_COLUMNS) as table:
            return [
                OutcomeItem(line.cells["prediction_id"], line.cells["views"], line=line.number)
                for line in table.lines()
            ]
    except CsvRefused as refused:
        problem = Problem(
            refused.line, None, str(refused.refusal), "invalid", refused.refusal, refused.column
        )
        raise OutcomesRefused([problem]) from refused


def training_rows() -> tuple[np.ndarray, np.ndarray, int | None]:
    """The answered predictions with an outcome in force: their inputs (from the audit row), their
    real views (the newest outcome), and the newest outcome's id, for the version's provenance."""
    rows = list(
        Outcome.objects.latest_per_prediction()
        .filter(prediction__accepted=True)
        # record_outcomes refuses outcomes for previews; this keeps any that got in out too.
        .exclude(prediction__channel=Channel.PREVIEW)
        .order_by("pk")
        .values_list(*(f"prediction__{name}" for name in features.INPUT_NAMES), "views", "pk")
    )
    if not rows:
        return np.empty((0, len(features.INPUT_NAMES))), np.empty(0), None
    table = np.array(rows, dtype="float64")
    return table[:, : len(features.INPUT_NAMES)], table[:, -2], int(rows[-1][-1])
