"""Replay: a version that is stored but not active, judged on the traffic the active one served.

For a model with no side effects, scoring it on the recorded inputs is the same as having run it
beside the active one: a shadow deployment without a second deployment. `replay` streams the
active version's served answers (the audit trail, in id order, in chunks), asks the candidate for
each chunk in one call, and compares what each would have served:

- how far its answers move: the relative change (candidate − served) / served, measured against
  one view where zero was served, summed into running counts and a fixed histogram of its size
  (MEDIAN_BIN wide, so the median is exact to within half a bin), never into a list that grows
  with the rows: memory stays the same at ten thousand rows or ten million;
- where real views were recorded (the outcome in force per prediction), the paired difference
  in absolute error, |candidate − real| − |served − real|, request by request: its mean with a
  95% confidence interval (Student's t), and a verdict when there are MIN_OUTCOMES of them.

Every run is stored (ReplayRun) with the figures, for the candidate's model card.
"""

import logging
import math
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from itertools import islice

import numpy as np
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext

from .. import features
from ..models import ModelVersion, Outcome, PredictionRequest, ReplayRun
from . import registry
from .errors import ModelUnavailable, ViewsiteError
from .predictors import Predictor

logger = logging.getLogger(__name__)

# Rows fetched per round trip and scored per call; on PostgreSQL a server-side cursor, so the
# process holds one chunk at a time.
CHUNK_SIZE = 20_000
# An answer moved "noticeably" when it changed by more than this share of what was served.
MOVED = 0.10
# The histogram of the size of the relative change: one bin for no change at all, bins of a
# tenth of a percentage point up to MEDIAN_RANGE (1,000%), and one for everything beyond: 10,002
# counters, whatever the number of rows. A median beyond the range is reported as "more than" it.
MEDIAN_BIN = 0.001
MEDIAN_RANGE = 10.0
MEDIAN_BINS = round(MEDIAN_RANGE / MEDIAN_BIN)
# Fewer paired outcomes than this give no verdict: the t interval rests on the mean of the
# differences being roughly normal, which a few dozen make believable, a handful do not.
MIN_OUTCOMES = 30
CONFIDENCE = 0.95


class Verdict:
    """What the outcomes say of the candidate against the version that served them."""

    BETTER = "better"  # the whole interval is below zero: its answers miss by less
    WORSE = "worse"  # the whole interval is above zero: its answers miss by more
    NOT_DISTINGUISHABLE = "not_distinguishable"  # the interval contains zero
    TOO_FEW = "too_few"  # some outcomes, fewer than MIN_OUTCOMES
    NO_OUTCOMES = "no_outcomes"


class ReplayRefused(ViewsiteError):
    """A replay that cannot be run: nothing to replay against, or a date that is not one."""


@dataclass
class ReplayReport:
    """One replay's figures. Changes are shares (0.1 is 10%); errors are in views."""

    candidate: ModelVersion
    incumbent: ModelVersion
    since: datetime | None = None
    computed_at: datetime | None = None
    through_id: int | None = None  # the newest request replayed
    requests: int = 0
    higher: int = 0  # the candidate would have served more views
    lower: int = 0
    moved: int = 0  # by more than MOVED
    with_interval: int = 0  # requests served with an interval
    outside: int = 0  # of those, candidate answers outside it
    median_change: float | None = None  # of the size of the relative change
    median_beyond_range: bool = False  # the median is more than MEDIAN_RANGE
    largest_change: float | None = None  # signed, the largest in size
    largest_change_id: int | None = None  # the request it was
    outcomes: int = 0
    mean_difference: float | None = None  # mean of |candidate − real| − |served − real|
    ci_low: float | None = None
    ci_high: float | None = None
    candidate_mae: float | None = None
    incumbent_mae: float | None = None

    # What the stored run keeps as columns of its own, rather than in its figures.
    RUN_FIELDS = ("candidate", "incumbent", "since", "computed_at", "through_id")

    @property
    def share_moved(self) -> float | None:
        return self.moved / self.requests if self.requests else None

    @property
    def share_higher(self) -> float | None:
        return self.higher / self.requests if self.requests else None

    @property
    def share_lower(self) -> float | None:
        return self.lower / self.requests if self.requests else None

    @property
    def share_outside(self) -> float | None:
        return self.outside / self.with_interval if self.with_interval else None

    @property
    def difference_size(self) -> float | None:
        """How many views the mean miss differs by, whichever way (mean_difference's sign)."""
        return None if self.mean_difference is None else abs(self.mean_difference)

    @property
    def verdict(self) -> str:
        if not self.outcomes:
            return Verdict.NO_OUTCOMES
        if self.outcomes < MIN_OUTCOMES or self.ci_low is None:
            return Verdict.TOO_FEW
        if self.ci_high < 0:
            return Verdict.BETTER
        if self.ci_low > 0:
            return Verdict.WORSE
        return Verdict.NOT_DISTINGUISHABLE

    @property
    def min_outcomes(self) -> int:
        return MIN_OUTCOMES

    @property
    def moved_threshold(self) -> float:
        return MOVED

    def figures(self) -> dict:
        """The figures as the stored run's JSON keeps them."""
        return {name: value for name, value in asdict(self).items() if name not in self.RUN_FIELDS}

    @classmethod
    def from_run(cls, run: ReplayRun) -> "ReplayReport":
        known = {field.name for field in fields(cls)} - set(cls.RUN_FIELDS)
        return cls(
            candidate=run.candidate,
            incumbent=run.incumbent,
            since=run.since,
            computed_at=run.computed_at,
            through_id=run.through_id,
            **{name: value for name, value in run.report.items() if name in known},
        )


def replay(
    candidate: ModelVersion,
    *,
    since: datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> ReplayReport:
    """Score `candidate` (its verified predictor) on the answers the active version served,
    since `since` if given; ReplayRefused when no version is active or `candidate` is it.
    Computes only: `store_replay` keeps the run."""
    incumbent = _incumbent_for(candidate)
    return replay_predictor(
        registry.load_predictor(candidate),
        candidate=candidate,
        incumbent=incumbent,
        since=since,
        chunk_size=chunk_size,
    )


def _incumbent_for(candidate: ModelVersion | None) -> ModelVersion:
    incumbent = registry.active_version()
    if incumbent is None:
        raise ReplayRefused(
            gettext("No version is active, so there are no served answers to replay.")
        )
    if candidate is not None and candidate.pk == incumbent.pk:
        raise ReplayRefused(
            gettext(
                "%(version)s is the active version: a replay compares another version with it. "
                "Name a stored version that is not active."
            )
            % {"version": candidate.label}
        )
    return incumbent


def served_requests(incumbent: ModelVersion, since: datetime | None = None):
    """The answers `incumbent` served (no refusals, no previews), since `since`."""
    requests = PredictionRequest.objects.served().filter(model_version=incumbent)
    if since is not None:
        requests = requests.filter(created_at__gte=since)
    return requests


def replayable_outcomes(incumbent: ModelVersion, *, since: datetime | None = None) -> int:
    """How many of `incumbent`'s served answers have a real view count recorded: what a replay
    against it would judge on."""
    return _outcomes(served_requests(incumbent, since)).count()


def _outcomes(requests):
    return Outcome.objects.latest_per_prediction().filter(prediction__in=requests)


def replay_predictor(
    predictor: Predictor,
    *,
    candidate: ModelVersion | None,
    incumbent: ModelVersion,
    since: datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> ReplayReport:
    """`replay` with the candidate's predictor given: `retrain` replays the model it has just
    fitted, before storing it (its serving predictor is the one the stored version loads)."""
    requests = served_requests(incumbent, since)
    # Fixed first, so the comparison and the outcomes read the same requests, however many are
    # answered meanwhile.
    through_id = requests.aggregate(newest=Max("pk"))["newest"]
    report = ReplayReport(
        candidate=candidate,
        incumbent=incumbent,
        since=since,
        computed_at=timezone.now(),
        through_id=through_id,
    )
    if through_id is None:
        return report
    requests = requests.filter(pk__lte=through_id)
    # In a transaction, PostgreSQL's server-side cursor sends rows as it reads them; outside
    # one Django declares it WITH HOLD, and PostgreSQL writes the whole result out first
    # (bench/README.md, "Streaming export"). Read-only: it locks nothing.
    with transaction.atomic():
        _compare_answers(report, predictor, requests, chunk_size)
        _compare_errors(report, predictor, requests, chunk_size)
    logger.info(
        "replay candidate=%s incumbent=%s requests=%d outcomes=%d verdict=%s",
        candidate.label if candidate else "-",
        incumbent.label,
        report.requests,
        report.outcomes,
        report.verdict,
    )
    return report


def _chunks(rows, size: int):
    rows = iter(rows)
    while chunk := list(islice(rows, size)):
        yield np.array(chunk, dtype=np.float64)  # None (no interval) becomes NaN


def _served(figures: np.ndarray) -> np.ndarray:
    """features.served_views of each figure, at once."""
    return np.where(figures > features.VIEWS_FLOOR, figures, features.VIEWS_FLOOR)


def _candidate_served(predictor: Predictor, inputs: np.ndarray) -> np.ndarray:
    """What the candidate would have served: its figure rounded to a hundredth of a view, as
    predictions.py rounds every answer, then floored. Unrounded, a candidate with the active
    version's very coefficients would differ from it by thousandths of a view on every request,
    and enough of those, all one way, make a verdict about nothing."""
    predicted = np.asarray(predictor.predict(inputs), dtype=np.float64)
    if not np.all(np.isfinite(predicted)):
        # As predictions.py refuses to serve one: no figure can be built on it.
        raise ModelUnavailable(gettext("The candidate produced a non-finite prediction."))
    return _served(hundredths(predicted))


def hundredths(figures: np.ndarray) -> np.ndarray:
    """round(figure, 2) for each figure, as Python rounds it. NumPy's rint(x · 100) / 100 gives
    the same double except where x · 100 lies within rounding error of a half, where its
    product may round the other way: those few are rounded by Python."""
    rounded = np.round(figures, 2)
    scaled = figures * 100
    near_half = np.abs(scaled - np.floor(scaled) - 0.5) <= np.maximum(1e-6, 4 * np.spacing(scaled))
    if near_half.any():
        rounded[near_half] = [round(figure, 2) for figure in figures[near_half].tolist()]
    return rounded


def _compare_answers(report: ReplayReport, predictor: Predictor, requests, chunk_size: int):
    # Bin 0 holds the answers that did not change at all, bin k those that changed by more than
    # (k − 1) and at most k tenths of a point, the last those beyond the range.
    histogram = np.zeros(MEDIAN_BINS + 2, dtype=np.int64)
    largest = -1.0
    rows = (
        requests.order_by("pk")
        .values_list("pk", *features.INPUT_NAMES, "views", "views_lower", "views_upper")
        .iterator(chunk_size=chunk_size)
    )
    inputs_end = 1 + len(features.INPUT_NAMES)
    for chunk in _chunks(rows, chunk_size):
        served = _served(chunk[:, inputs_end])
        candidate = _candidate_served(predictor, chunk[:, 1:inputs_end])
        # Measured against one view where zero was served: a change from nothing is then its
        # size in views, not infinite.
        change = (candidate - served) / np.maximum(served, 1.0)
        size = np.abs(change)
        report.requests += len(chunk)
        report.higher += int(np.count_nonzero(change > 0))
        report.lower += int(np.count_nonzero(change < 0))
        report.moved += int(np.count_nonzero(size > MOVED))
        lower, upper = chunk[:, inputs_end + 1], chunk[:, inputs_end + 2]
        has_interval = ~np.isnan(lower)
        report.with_interval += int(np.count_nonzero(has_interval))
        report.outside += int(
            np.count_nonzero(has_interval & ((candidate < lower) | (candidate > upper)))
        )
        bins = np.minimum(np.ceil(size / MEDIAN_BIN).astype(np.int64), MEDIAN_BINS + 1)
        histogram += np.bincount(bins, minlength=MEDIAN_BINS + 2)
        at = int(np.argmax(size))
        if size[at] > largest:
            largest = float(size[at])
            report.largest_change = float(change[at])
            report.largest_change_id = int(chunk[at, 0])
    report.median_change, report.median_beyond_range = _median(histogram, report.requests)


def _median(histogram: np.ndarray, total: int) -> tuple[float | None, bool]:
    """The middle of the sizes counted in `histogram`: the centre of the bin holding it."""
    if not total:
        return None, False
    middle = int(np.searchsorted(np.cumsum(histogram), (total + 1) / 2))
    if middle > MEDIAN_BINS:
        return MEDIAN_RANGE, True
    # An unchanged answer is exactly no change, not half a bin of one.
    return (0.0 if middle == 0 else (middle - 0.5) * MEDIAN_BIN), False


def _compare_errors(report: ReplayReport, predictor: Predictor, requests, chunk_size: int):
    """The paired difference in absolute error on the requests with a real view count, summed
    chunk by chunk (Chan et al.'s merge of running means and squared deviations)."""
    rows = (
        _outcomes(requests)
        .order_by("prediction_id")
        .values_list(
            *(f"prediction__{name}" for name in features.INPUT_NAMES), "prediction__views", "views"
        )
        .iterator(chunk_size=chunk_size)
    )
    count, mean, squares = 0, 0.0, 0.0
    candidate_errors = incumbent_errors = 0.0
    width = len(features.INPUT_NAMES)
    for chunk in _chunks(rows, chunk_size):
        real = chunk[:, width + 1]
        candidate_error = np.abs(_candidate_served(predictor, chunk[:, :width]) - real)
        incumbent_error = np.abs(_served(chunk[:, width]) - real)
        difference = candidate_error - incumbent_error
        n, chunk_mean = len(difference), float(np.mean(difference))
        delta = chunk_mean - mean
        total = count + n
        mean += delta * n / total
        squares += float(np.sum((difference - chunk_mean) ** 2)) + delta**2 * count * n / total
        count = total
        candidate_errors += float(np.sum(candidate_error))
        incumbent_errors += float(np.sum(incumbent_error))
    report.outcomes = count
    if not count:
        return
    report.mean_difference = mean
    report.candidate_mae = candidate_errors / count
    report.incumbent_mae = incumbent_errors / count
    if count >= 2:
        from scipy import stats

        margin = stats.t.ppf((1 + CONFIDENCE) / 2, count - 1) * math.sqrt(
            squares / (count - 1) / count
        )
        report.ci_low, report.ci_high = mean - margin, mean + margin


def store_replay(report: ReplayReport) -> ReplayRun:
    """Keep a replay of a stored candidate, for its model card."""
    return ReplayRun.objects.create(
        candidate=report.candidate,
        incumbent=report.incumbent,
        computed_at=report.computed_at,
        since=report.since,
        rows=report.requests,
        through_id=report.through_id,
        report=report.figures(),
    )


def latest_replay(candidate: ModelVersion) -> ReplayReport | None:
    """The candidate's latest stored replay, or None if it was never replayed."""
    run = (
        ReplayRun.objects.filter(candidate=candidate)
        .select_related("candidate", "incumbent")
        .order_by("-computed_at", "-pk")
        .first()
    )
    return None if run is None else ReplayReport.from_run(run)
