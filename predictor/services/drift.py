"""Drift: whether the inputs a version answers still look like the data it was trained on.

Per input (likes, shares), the answers a version served are compared with its training data's
exact value counts (recorded at retrain, TrainingData.summary's "distributions"), in two
windows: every answer it has served, and its latest DRIFT_WINDOW answers (or those since a
date). The test suits the sample, as monitoring tools (Evidently, for one) choose it:

- under DRIFT_KS_MAX_ROWS answers, the two-sample Kolmogorov-Smirnov test on the exact values:
  drifted when its p-value is under DRIFT_P_VALUE; its statistic (the largest gap between the
  two cumulative shares, 0 to 1) is the effect size shown;
- from DRIFT_KS_MAX_ROWS up, where any small difference becomes "significant", the Wasserstein
  distance (how far, on average, the served inputs would have to move to look like the training
  ones) divided by the training data's standard deviation: drifted at DRIFT_DISTANCE or more.

Beside each, the share of answers outside the training range, where the model extrapolates.

Nothing is written per request. "Every answer" is read as the served counts are
(services/served.py): histograms in bins of DRIFT_BIN_WIDTH kept at the served checkpoint, plus
the rows since, grouped by the database; the recent window reads at most DRIFT_WINDOW rows by the
(model_version, created_at, id) index. scipy is imported inside the functions that use it: a web
worker loads it with the first card that shows drift, never to answer a prediction nor for
/metrics, whose gauges are the figures over every answer that `checkpoint_drift` computes when
the checkpoint is stored (in seal_audit's process) and `served_drift` reads back.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import features
from ..models import ModelVersion, PredictionRequest, ServedCheckpoint, ServedInputHistogram

# A bin holds ten consecutive values (0-9, 10-19, ...): 2,001 bins at most per input, and a
# tenth of a standard deviation of any real data spans many of them.
DRIFT_BIN_WIDTH = 10
# Below this many answers the exact values are read and tested; above it the KS test finds any
# difference, however small, "significant", so the size of the difference is what is judged.
DRIFT_KS_MAX_ROWS = 1_000
DRIFT_P_VALUE = 0.05
# A tenth of the training data's standard deviation: Evidently's default threshold.
DRIFT_DISTANCE = 0.1
# The recent window: this many of a version's latest answers.
DRIFT_WINDOW = 1_000

KS = "ks"
WASSERSTEIN = "wasserstein"
# Each test named for people: what it measures first, its name after.
TEST_TITLES = {
    KS: _("shape test (Kolmogorov-Smirnov)"),
    WASSERSTEIN: _("distance (Wasserstein)"),
}


# --- The training data -------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingInputs:
    """One input's values in a version's training data, with how often each occurred."""

    values: np.ndarray
    counts: np.ndarray

    @property
    def lowest(self) -> float:
        return float(self.values[0])

    @property
    def highest(self) -> float:
        return float(self.values[-1])

    @property
    def std(self) -> float:
        mean = np.average(self.values, weights=self.counts)
        return float(np.sqrt(np.average((self.values - mean) ** 2, weights=self.counts)))


def training_inputs(version: ModelVersion) -> dict[str, TrainingInputs] | None:
    """Each input's training distribution; None for a version trained before it was recorded."""
    recorded = version.training_summary.get("distributions") or {}
    if any(not recorded.get(name) for name in features.INPUT_NAMES):
        return None
    return {
        name: TrainingInputs(
            values=np.array([value for value, _ in recorded[name]], dtype=np.float64),
            counts=np.array([times for _, times in recorded[name]], dtype=np.float64),
        )
        for name in features.INPUT_NAMES
    }


# --- The served inputs -------------------------------------------------------------------------


@dataclass
class Histogram:
    """One version's served values of one input: answers per bin, and those below and above its
    training range counted exactly (a bin may straddle an end of it)."""

    counts: Counter = field(default_factory=Counter)  # bin number -> answers
    below: int = 0
    above: int = 0

    def add(self, value_counts: Iterable[tuple[int, int]], bounds: tuple | None) -> None:
        for value, times in value_counts:
            self.counts[value // DRIFT_BIN_WIDTH] += times
            if bounds is not None:
                if value < bounds[0]:
                    self.below += times
                elif value > bounds[1]:
                    self.above += times


@dataclass(frozen=True)
class ServedInputs:
    """One input's served values in a window: exact values (`binned` False) or bin numbers,
    each with its number of answers, and how many lay outside the training range."""

    values: np.ndarray
    weights: np.ndarray
    binned: bool
    outside: int

    @property
    def served(self) -> int:
        return int(self.weights.sum())

    @property
    def lowest(self) -> float:
        """The smallest value served; binned, where its bin starts."""
        return float(self.values[0] * DRIFT_BIN_WIDTH if self.binned else self.values[0])

    @property
    def highest(self) -> float:
        """The largest value served; binned, where its bin ends."""
        if self.binned:
            return float(self.values[-1] * DRIFT_BIN_WIDTH + DRIFT_BIN_WIDTH - 1)
        return float(self.values[-1])

    @property
    def points(self) -> np.ndarray:
        """The values, a bin standing at its middle."""
        if self.binned:
            return self.values * DRIFT_BIN_WIDTH + (DRIFT_BIN_WIDTH - 1) / 2
        return self.values


def exact_inputs(value_counts: dict[int, int], bounds: tuple | None) -> ServedInputs:
    values = np.array(sorted(value_counts), dtype=np.float64)
    outside = 0
    if bounds is not None:
        lowest, highest = bounds
        outside = sum(
            times for value, times in value_counts.items() if not lowest <= value <= highest
        )
    return ServedInputs(
        values=values,
        weights=np.array([value_counts[v] for v in sorted(value_counts)], dtype=np.float64),
        binned=False,
        outside=outside,
    )


def binned_inputs(histogram: Histogram) -> ServedInputs:
    bins = sorted(histogram.counts)
    return ServedInputs(
        values=np.array(bins, dtype=np.float64),
        weights=np.array([histogram.counts[b] for b in bins], dtype=np.float64),
        binned=True,
        outside=histogram.below + histogram.above,
    )


def _bounds(version: ModelVersion | None, name: str) -> tuple | None:
    ranges = version.training_ranges if version is not None else None
    return None if ranges is None else (ranges[name]["min"], ranges[name]["max"])


def value_counts_by_version(queryset, name: str) -> dict[int, dict[int, int]]:
    """{version id: {value: answers}} of input `name` over `queryset`, grouped by the database."""
    grouped: dict[int, dict[int, int]] = {}
    rows = (
        queryset.order_by()
        .values("model_version", name)
        .annotate(n=models.Count("pk"))
        .values_list("model_version", name, "n")
    )
    for version_id, value, times in rows:
        grouped.setdefault(version_id, {})[value] = times
    return grouped


def histograms_between(*, after: int, through_id: int) -> dict[tuple[int, str], Histogram]:
    """Each (version id, input)'s histogram of the served rows with an id after `after` through
    `through_id`: what services/served.py adds to the previous checkpoint's."""
    rows = PredictionRequest.objects.served().filter(pk__gt=after, pk__lte=through_id)
    grouped = {name: value_counts_by_version(rows, name) for name in features.INPUT_NAMES}
    versions = ModelVersion.objects.in_bulk(
        {version_id for by_version in grouped.values() for version_id in by_version}
    )
    histograms = {}
    for name, by_version in grouped.items():
        for version_id, counts in by_version.items():
            histogram = histograms[version_id, name] = Histogram()
            histogram.add(counts.items(), _bounds(versions.get(version_id), name))
    return histograms


def latest_histogram_checkpoint() -> ServedCheckpoint | None:
    return (
        ServedCheckpoint.objects.filter(has_input_histograms=True).order_by("-through_id").first()
    )


def served_inputs(versions: list[ModelVersion]) -> dict[int, dict[str, ServedInputs]]:
    """Every answer each version served, per input: the latest checkpoint's histograms plus the
    rows since, grouped by the database; a version with fewer than DRIFT_KS_MAX_ROWS answers
    has its exact values read instead (few rows, by the version index)."""
    checkpoint = latest_histogram_checkpoint()
    after = checkpoint.through_id if checkpoint is not None else 0
    by_pk = {version.pk: version for version in versions}
    histograms = {(pk, name): Histogram() for pk in by_pk for name in features.INPUT_NAMES}
    if checkpoint is not None:
        for stored in checkpoint.input_histograms.filter(version__in=list(by_pk)):
            histogram = histograms.get((stored.version_id, stored.feature))
            if histogram is not None:
                histogram.counts.update({int(b): n for b, n in stored.counts.items()})
                histogram.below += stored.below
                histogram.above += stored.above
    since = (
        PredictionRequest.objects.served()
        # As in models.served_figure: the version's id plus 0 keeps SQLite's planner on the
        # primary key, where the few rows since the checkpoint are.
        .annotate(answered_by=models.F("model_version") + 0)
        .filter(answered_by__in=list(by_pk), pk__gt=after)
    )
    for name in features.INPUT_NAMES:
        for version_id, counts in value_counts_by_version(since, name).items():
            histograms[version_id, name].add(counts.items(), _bounds(by_pk[version_id], name))
    return inputs_of_histograms(by_pk, histograms)


def inputs_of_histograms(
    by_pk: dict[int, ModelVersion],
    histograms: dict[tuple[int, str], Histogram],
    *,
    through_id: int | None = None,
) -> dict[int, dict[str, ServedInputs]]:
    """Each version's served inputs from its histograms of every answer (through `through_id`,
    if given): binned, or under DRIFT_KS_MAX_ROWS answers its exact values, read by its index."""
    inputs = {}
    for pk, version in by_pk.items():
        served = sum(histograms.get((pk, features.INPUT_NAMES[0]), Histogram()).counts.values())
        if served < DRIFT_KS_MAX_ROWS:
            rows = PredictionRequest.objects.served().filter(model_version=version)
            if through_id is not None:
                rows = rows.filter(pk__lte=through_id)
            inputs[pk] = exact_inputs_of(version, rows)
        else:
            inputs[pk] = {
                name: binned_inputs(histograms[pk, name]) for name in features.INPUT_NAMES
            }
    return inputs


def recent_inputs(version: ModelVersion) -> dict[str, ServedInputs]:
    """The version's latest DRIFT_WINDOW answers, per input, read newest first by its index."""
    rows = list(
        PredictionRequest.objects.served()
        .filter(model_version=version)
        .order_by("-created_at", "-id")
        .values_list(*features.INPUT_NAMES)[:DRIFT_WINDOW]
    )
    return {
        name: exact_inputs(Counter(row[column] for row in rows), _bounds(version, name))
        for column, name in enumerate(features.INPUT_NAMES)
    }


def inputs_since(version: ModelVersion, since: datetime) -> dict[str, ServedInputs]:
    """The version's answers from `since` on, per input, grouped by the database."""
    rows = PredictionRequest.objects.served().filter(model_version=version, created_at__gte=since)
    return exact_inputs_of(version, rows)


def exact_inputs_of(version: ModelVersion, rows) -> dict[str, ServedInputs]:
    """Each input's exact values among `rows` of `version`, grouped by the database."""
    return {
        name: exact_inputs(
            value_counts_by_version(rows, name).get(version.pk, {}), _bounds(version, name)
        )
        for name in features.INPUT_NAMES
    }


# --- The comparison ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureDrift:
    """One input compared in one window."""

    name: str
    test: str | None  # KS or WASSERSTEIN; None with no answer to compare
    effect: float | None  # the KS statistic, or the distance in training standard deviations
    p_value: float | None  # the KS test's; None for the distance
    drifted: bool
    served: int
    outside: int

    @property
    def feature(self) -> features.Feature:
        return next(f for f in features.INPUT_FEATURES if f.name == self.name)

    @property
    def test_title(self) -> str:
        return str(TEST_TITLES[self.test]) if self.test else ""

    @property
    def verdict(self) -> str:
        """The verdict in words, which a colour may repeat but never replace."""
        if self.test is None:
            return gettext("no answers yet")
        return gettext("drifted") if self.drifted else gettext("no drift")

    @property
    def share_outside(self) -> float | None:
        return self.outside / self.served if self.served else None


def compare(name: str, training: TrainingInputs, served: ServedInputs) -> FeatureDrift:
    """The test suited to the sample: KS under DRIFT_KS_MAX_ROWS exact values, else the
    Wasserstein distance over the training standard deviation."""
    from scipy import stats

    figures = {"name": name, "served": served.served, "outside": served.outside}
    if not served.served:
        return FeatureDrift(test=None, effect=None, p_value=None, drifted=False, **figures)
    if served.served < DRIFT_KS_MAX_ROWS and not served.binned:
        result = stats.ks_2samp(
            np.repeat(served.values, served.weights.astype(np.int64)),
            np.repeat(training.values, training.counts.astype(np.int64)),
        )
        return FeatureDrift(
            test=KS,
            effect=float(result.statistic),
            p_value=float(result.pvalue),
            drifted=bool(result.pvalue < DRIFT_P_VALUE),
            **figures,
        )
    if served.binned:
        # Both sides binned alike, so the bins' width adds no distance of its own.
        trained = np.floor_divide(training.values, DRIFT_BIN_WIDTH) * DRIFT_BIN_WIDTH + (
            (DRIFT_BIN_WIDTH - 1) / 2
        )
    else:
        trained = training.values
    distance = stats.wasserstein_distance(served.points, trained, served.weights, training.counts)
    spread = training.std
    # Every training article with the same value: then any distance is all the difference.
    effect = distance / spread if spread > 0 else (0.0 if distance == 0 else float("inf"))
    return FeatureDrift(
        test=WASSERSTEIN,
        effect=float(effect),
        p_value=None,
        drifted=bool(effect >= DRIFT_DISTANCE),
        **figures,
    )


@dataclass(frozen=True)
class VersionDrift:
    """A version's inputs compared with its training data, in both windows."""

    version: ModelVersion
    recorded: bool  # False: trained before its data's distribution was recorded
    overall: list[FeatureDrift]  # every answer served
    recent: list[FeatureDrift]  # the latest DRIFT_WINDOW answers, or those since `since`
    since: datetime | None
    window: int = DRIFT_WINDOW
    # The training and served values behind `overall`, for the card's plot.
    training: dict[str, TrainingInputs] = field(default_factory=dict)
    served: dict[str, ServedInputs] = field(default_factory=dict)

    @property
    def drifted(self) -> bool:
        return any(f.drifted for f in (*self.overall, *self.recent))

    @property
    def answered(self) -> int:
        return self.overall[0].served if self.overall else 0

    @property
    def drifted_features(self) -> list[features.Feature]:
        """The inputs drifted in either window, in the model's order."""
        drifted = {f.name for f in (*self.overall, *self.recent) if f.drifted}
        return [feature for feature in features.INPUT_FEATURES if feature.name in drifted]


def version_drift(version: ModelVersion, since: datetime | None = None) -> VersionDrift:
    """Version `version`'s drift report: every answer, and its latest DRIFT_WINDOW answers, or
    with `since` its answers from then on."""
    training = training_inputs(version)
    if training is None:
        return VersionDrift(version=version, recorded=False, overall=[], recent=[], since=since)
    served = served_inputs([version])[version.pk]
    if since is not None:
        recent = inputs_since(version, since)
    elif served[features.INPUT_NAMES[0]].served <= DRIFT_WINDOW and not any(
        inputs.binned for inputs in served.values()
    ):
        recent = served  # every answer is the latest window: no second read
    else:
        recent = recent_inputs(version)
    return VersionDrift(
        version=version,
        recorded=True,
        overall=[compare(name, training[name], served[name]) for name in features.INPUT_NAMES],
        recent=[compare(name, training[name], recent[name]) for name in features.INPUT_NAMES],
        since=since,
        training=training,
        served=served,
    )


def checkpoint_drift(
    histograms: dict[tuple[int, str], Histogram], *, through_id: int
) -> dict[tuple[int, str], FeatureDrift]:
    """Each (version id, input)'s drift over every answer through `through_id`, from the
    checkpoint's histograms (exact values under DRIFT_KS_MAX_ROWS answers, as the card reads
    them): what services/served.py stores with a checkpoint for /metrics. Versions trained before
    distributions were recorded are left out. Imports scipy: never in a web worker."""
    versions = ModelVersion.objects.in_bulk({version_id for version_id, _ in histograms})
    trained = {pk: training_inputs(version) for pk, version in versions.items()}
    recorded = {pk: versions[pk] for pk, training in trained.items() if training is not None}
    served = inputs_of_histograms(recorded, histograms, through_id=through_id)
    return {
        (pk, name): compare(name, trained[pk][name], served[pk][name])
        for pk in recorded
        for name in features.INPUT_NAMES
    }


@dataclass(frozen=True)
class DriftGauge:
    """One version's drift in one input over every answer, as the latest checkpoint stored it."""

    version: str  # its label, v3
    feature: str
    effect: float
    drifted: bool
    share_outside: float


def served_drift() -> list[DriftGauge]:
    """What /metrics reports: the figures stored with the latest checkpoint's histograms (as of
    the latest seal), in one query; nothing compared here, so a web worker never imports scipy.
    Versions without figures (trained before distributions were recorded, or a checkpoint
    stored before drift was) are left out."""
    latest = (
        ServedCheckpoint.objects.filter(has_input_histograms=True)
        .order_by("-through_id")
        .values("pk")[:1]
    )
    rows = (
        ServedInputHistogram.objects.filter(
            checkpoint=models.Subquery(latest), effect__isnull=False
        )
        .order_by("version__number", "feature")
        .values_list("version__number", "feature", "effect", "drifted", "share_outside")
    )
    return [
        DriftGauge(
            version=ModelVersion(number=number).label,
            feature=feature,
            effect=effect,
            drifted=bool(drifted),
            share_outside=share_outside,
        )
        for number, feature, effect, drifted, share_outside in rows
    ]


# --- The plot ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlotBin:
    low: float
    high: float
    training_share: float
    served_share: float


def plot_bins(training: TrainingInputs, served: ServedInputs, count: int = 20) -> list[PlotBin]:
    """The two distributions over `count` equal bins spanning both, each as shares of its own
    total, so a version's thousand answers and its training file's rows are drawn alike."""
    points = served.points
    low = min(training.lowest, float(points.min()) if len(points) else training.lowest)
    high = max(training.highest, float(points.max()) if len(points) else training.highest)
    if high <= low:
        high = low + 1
    edges = np.linspace(low, high, count + 1)
    trained, _ = np.histogram(training.values, bins=edges, weights=training.counts)
    answered, _ = np.histogram(points, bins=edges, weights=served.weights)
    trained = trained / trained.sum()
    answered = answered / answered.sum() if answered.sum() else answered
    return [
        PlotBin(float(edges[i]), float(edges[i + 1]), float(trained[i]), float(answered[i]))
        for i in range(count)
    ]
