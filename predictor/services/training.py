"""Retraining: from a data file to a verified, versioned, activated model, or a clear refusal.

The quality estimate is honest (k-fold cross-validation with a fixed seed, never the training fit);
the deployed model is fitted on every row, so the course's file reproduces the course's
coefficients exactly. Nothing is written until the candidate has passed the quality gate.
"""

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import sklearn
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error
from sklearn.model_selection import KFold, cross_validate

from .. import display, features
from ..models import Activation, ModelVersion
from . import outcomes, plots, registry, signing
from .algorithms import DEFAULT_ALGORITHM, SEED, Algorithm, algorithm_named, fitted_parameters
from .datasets import TrainingData, load_training_data
from .errors import DatasetError, ModelUnavailable, QualityGateRefused
from .predictors import interval_half_widths, predictor_for
from .replay import (
    MIN_OUTCOMES,
    ReplayReport,
    Verdict,
    replay_predictor,
    replayable_outcomes,
    store_replay,
)

logger = logging.getLogger(__name__)

CV_FOLDS = 5
CV_SEED = SEED

# The quality gates `retrain --gate` chooses from. "cv" compares the candidate's cross-validated
# R² with the active version's on the same data. "replay" replays the candidate on the active
# version's served answers and, where at least MIN_OUTCOMES of them have a real view count,
# refuses it only if its verdict is "worse" (services/replay.py): a candidate that is not
# distinguishable passes, as the cv gate passes one no worse than its tolerance, or every
# retrain that merely keeps up would be refused until outcomes pile up. Fewer outcomes, or no
# active version: the cv gate applies, and the report says why. The R² floor applies to both.
GATE_CV = "cv"
GATE_REPLAY = "replay"
GATES = (GATE_CV, GATE_REPLAY)


@dataclass(frozen=True)
class Metrics:
    r2: float
    mae: float
    rmse: float


@dataclass(frozen=True)
class Interval:
    """views ± relative_half_width × max(views, scale_floor), stated to cover the real figure
    `coverage` of the time.

    `held_out_coverage` is how often it did on rows it was not calibrated on (each fold judged by
    the width the other folds give), which is what the stated coverage promises; `mean_width` is
    the interval's average full width over the data's rows.
    """

    coverage: float
    relative_half_width: float
    scale_floor: float
    held_out_coverage: float
    mean_width: float


@dataclass(frozen=True)
class Evaluation:
    """One algorithm cross-validated on the data: its scores, its interval, its fit time."""

    algorithm: Algorithm
    cv: Metrics
    folds: int
    interval: Interval
    fit_seconds: float  # mean over the folds
    predicted: np.ndarray  # out-of-fold predictions, one per row


@dataclass
class RetrainReport:
    data: TrainingData
    algorithm: str
    parameters: dict
    cv: Metrics
    cv_folds: int
    interval: Interval | None = None
    algorithm_name: str = DEFAULT_ALGORITHM
    active: ModelVersion | None = None
    active_metrics: Metrics | None = None
    active_problem: str = ""
    gate_reasons: list[str] = field(default_factory=list)
    forced: bool = False
    dry_run: bool = False
    version: ModelVersion | None = None
    gate: str = GATE_CV
    replay: ReplayReport | None = None  # the replay that judged it, under --gate replay
    replay_note: str = ""  # why --gate replay fell back to the cv gate

    @property
    def gate_passed(self) -> bool:
        return not self.gate_reasons

    @property
    def activated(self) -> bool:
        return self.version is not None and self.version.is_active


def training_data(*, data_path: Path | str, include_outcomes: bool = False) -> TrainingData:
    """The data file's rows, and with `include_outcomes` the answered predictions whose real
    views are known (inputs from the audit row, label from the outcome in force)."""
    data = load_training_data(data_path)
    if not include_outcomes:
        return data
    inputs, target, last_outcome_id = outcomes.training_rows()
    if not len(target):
        raise DatasetError(
            gettext(
                "--include-outcomes: no prediction has a recorded outcome yet, so there is "
                "nothing to add to the data file."
            )
        )
    return replace(
        data,
        inputs=np.vstack([data.inputs, inputs]),
        target=np.concatenate([data.target, target]),
        outcome_rows=len(target),
        last_outcome_id=last_outcome_id,
    )


def retrain(
    *,
    data_path: Path | str,
    algorithm: str = DEFAULT_ALGORITHM,
    include_outcomes: bool = False,
    activate: bool = True,
    force: bool = False,
    dry_run: bool = False,
    gate: str = GATE_CV,
) -> RetrainReport:
    """Train a candidate on `data_path`, judge it, and store and activate it if it passes.

    Raises DatasetError for a bad file and QualityGateRefused when the candidate is not good enough
    (unless `force`); in both cases nothing is written and the active model stays as it was.
    `gate` is one of GATES; under "replay" the replay that judged the candidate is stored with it.
    """
    if gate not in GATES:
        raise ValueError(f"unknown quality gate {gate!r}; one of {GATES}")
    recipe = algorithm_named(algorithm)
    if not dry_run:
        signing.require_signing_key()
    data = training_data(data_path=data_path, include_outcomes=include_outcomes)
    evaluation = evaluate(recipe, data)
    estimator = recipe.build()
    fit_started = time.perf_counter()
    estimator.fit(data.inputs, data.target)
    fit_seconds = time.perf_counter() - fit_started

    report = RetrainReport(
        data=data,
        algorithm=_describe(estimator),
        algorithm_name=recipe.name,
        parameters=fitted_parameters(recipe, estimator),
        cv=evaluation.cv,
        cv_folds=evaluation.folds,
        interval=evaluation.interval,
        forced=force,
        dry_run=dry_run,
        gate=gate,
    )
    _compare_with_active(report)
    if gate == GATE_REPLAY:
        _replay_candidate(report, estimator)
    _apply_quality_gate(report)
    logger.info(
        "retrain candidate algorithm=%s data=%s rows=%d outcome_rows=%d cv_r2=%.4f gate=%s",
        recipe.name,
        data.file_name,
        data.rows,
        data.outcome_rows,
        evaluation.cv.r2,
        "passed" if report.gate_passed else "; ".join(report.gate_reasons),
    )
    if not report.gate_passed and not force:
        raise QualityGateRefused(
            gettext(
                "The candidate was not stored: %(reasons)s. Fix the data, or pass --force to "
                "store and activate it anyway."
            )
            % {"reasons": gettext("; ").join(report.gate_reasons)},
            report,
        )
    if dry_run:
        return report

    drawn = plots.draw(
        inputs=data.inputs,
        target=data.target,
        predicted=evaluation.predicted,
        half_widths=interval_half_widths(
            evaluation.predicted,
            evaluation.interval.relative_half_width,
            evaluation.interval.scale_floor,
        ),
    )
    with transaction.atomic():
        number = (ModelVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
        artifact, serving = registry.model_files(estimator=estimator, number=number)
        recorded_plots, plot_files = registry.plot_files(drawn, number=number)
        cv, interval = evaluation.cv, evaluation.interval
        report.version = registry.store_version(
            version=ModelVersion(
                number=number,
                algorithm=report.algorithm,
                algorithm_name=recipe.name,
                features=list(features.INPUT_NAMES),
                parameters=report.parameters,
                cv_r2=cv.r2,
                cv_mae=cv.mae,
                cv_rmse=cv.rmse,
                cv_folds=evaluation.folds,
                interval_coverage=interval.coverage,
                interval_relative_half_width=interval.relative_half_width,
                interval_scale_floor=interval.scale_floor,
                cv_interval_coverage=interval.held_out_coverage,
                fit_seconds=fit_seconds,
                training_rows=data.rows,
                rows_filled=data.rows_filled,
                training_summary=data.summary(),
                data_file_name=data.file_name,
                data_sha256=data.sha256,
                artifact_name=artifact.name,
                artifact_sha256=artifact.sha256,
                serving_name=serving.name if serving else "",
                serving_sha256=serving.sha256 if serving else "",
                plots=recorded_plots,
                sklearn_version=sklearn.__version__,
            ),
            files=[artifact, *([serving] if serving else []), *plot_files],
        )
        if report.replay is not None:
            report.replay.candidate = report.version
            store_replay(report.replay)
        if activate:
            reason_code, reason_parameters = Activation.retrained(
                algorithm=recipe.name, data_file=data.file_name, outcome_rows=data.outcome_rows
            )
            registry.activate(
                version=report.version,
                door=Activation.Door.RETRAIN,
                reason_code=reason_code,
                reason_parameters=reason_parameters,
            )
    logger.info("retrain stored version=%s activated=%s", report.version.label, report.activated)
    return report


# Which algorithm a comparison calls best. The primary metric is the cross-validated R² (the
# share of the views' variance explained on rows the model did not see), compared as it is shown:
# to R2_PLACES decimals. Folds of a few thousand rows move the fourth decimal from one seed to
# the next, so a difference there is noise, and a reader who sees two equal R²s must not be
# told that one is better by a digit they were not shown. Two algorithms whose R² reads the same
# are told apart by the lower MAE (the typical miss), then the lower RMSE (which weighs the large
# misses), both in whole views as shown; a tie on all three goes to the one listed first
# (ALGORITHMS' order, simplest first).
R2_PLACES = 3
BEST_RULE = _(
    "The rule for the best: the highest cross-validated R² to 3 decimals; a tie goes to the "
    "lower MAE, then to the lower RMSE, in whole views."
)


def shown(value: float, places: int) -> Decimal:
    """A metric as the comparison shows and compares it: rounded half up to `places` decimals,
    as display.decimal writes it."""
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _ranked_metrics(evaluation: Evaluation) -> tuple[Decimal, Decimal, Decimal]:
    """What BEST_RULE compares, in its order, each as shown; smaller is better."""
    cv = evaluation.cv
    return (-shown(cv.r2, R2_PLACES), shown(cv.mae, 0), shown(cv.rmse, 0))


@dataclass(frozen=True)
class Comparison:
    data: TrainingData
    evaluations: list[Evaluation]

    @property
    def best(self) -> Evaluation:
        """The best by BEST_RULE (min is stable: a full tie goes to the first listed)."""
        return min(self.evaluations, key=_ranked_metrics)

    @property
    def runner_up(self) -> Evaluation | None:
        ranked = sorted(self.evaluations, key=_ranked_metrics)
        return ranked[1] if len(ranked) > 1 else None

    @property
    def decided_by(self) -> str:
        """Which metric of BEST_RULE put the best ahead of the runner-up: "r2", "mae", "rmse",
        or "order" for a full tie (and for a comparison of one)."""
        if self.runner_up is None:
            return "order"
        best, other = _ranked_metrics(self.best), _ranked_metrics(self.runner_up)
        for name, mine, theirs in zip(("r2", "mae", "rmse"), best, other, strict=True):
            if mine != theirs:
                return name
        return "order"


def compare(
    *,
    data_path: Path | str,
    include_outcomes: bool = False,
    names=None,
    on_start: Callable[[Algorithm, int, int], None] | None = None,
) -> Comparison:
    """Every algorithm (or those `names`) scored on the same folds of the same data.

    `on_start(algorithm, position, total)` is called as each algorithm starts (position from
    1), so that a door can show progress: the slowest take seconds each."""
    from .algorithms import ALGORITHMS

    data = training_data(data_path=data_path, include_outcomes=include_outcomes)
    chosen = [algorithm_named(name) for name in (names or ALGORITHMS)]
    evaluations = []
    for position, algorithm in enumerate(chosen, start=1):
        if on_start is not None:
            on_start(algorithm, position, len(chosen))
        evaluations.append(evaluate(algorithm, data))
    return Comparison(data, evaluations)


def evaluate(algorithm: Algorithm, data: TrainingData) -> Evaluation:
    """K-fold cross-validation with a fixed seed (every algorithm gets the same folds), keeping
    each row's out-of-fold prediction for the interval and the plots."""
    folds = min(CV_FOLDS, data.rows)
    results = cross_validate(
        algorithm.build(),
        data.inputs,
        data.target,
        cv=KFold(n_splits=folds, shuffle=True, random_state=CV_SEED),
        scoring=("r2", "neg_mean_absolute_error", "neg_root_mean_squared_error"),
        return_estimator=True,
        return_indices=True,
    )
    predicted = np.empty_like(data.target)
    fold_of = np.empty(data.rows, dtype=int)
    for fold, (estimator, test) in enumerate(
        zip(results["estimator"], results["indices"]["test"], strict=True)
    ):
        predicted[test] = estimator.predict(data.inputs[test])
        fold_of[test] = fold
    return Evaluation(
        algorithm=algorithm,
        cv=Metrics(
            r2=float(np.mean(results["test_r2"])),
            mae=float(-np.mean(results["test_neg_mean_absolute_error"])),
            rmse=float(-np.mean(results["test_neg_root_mean_squared_error"])),
        ),
        folds=folds,
        interval=conformal_interval(
            data.target, predicted, fold_of, settings.VIEWSITE_INTERVAL_COVERAGE
        ),
        fit_seconds=float(np.mean(results["fit_time"])),
        predicted=predicted,
    )


# Predictions below this quantile of the training views get the interval of that value.
SCALE_FLOOR_QUANTILE = 0.05


def conformal_interval(
    target: np.ndarray, predicted: np.ndarray, fold_of: np.ndarray, coverage: float
) -> Interval:
    """A split-conformal interval from out-of-fold predictions, scaled by the prediction.

    The score of a row is its error as a share of its prediction, |y − ŷ| / max(ŷ, floor): the
    views' errors grow with the views (on the course file a constant width covers every small
    article and two thirds of the large ones; a scaled one covers each quarter alike).
    """
    scale_floor = max(1.0, float(np.quantile(target, SCALE_FLOOR_QUANTILE)))
    scores = np.abs(target - predicted) / np.maximum(predicted, scale_floor)
    relative_half_width = conformal_quantile(scores, coverage)
    covered = 0
    for fold in np.unique(fold_of):
        inside = fold_of == fold
        covered += int(np.sum(scores[inside] <= conformal_quantile(scores[~inside], coverage)))
    half_widths = interval_half_widths(predicted, relative_half_width, scale_floor)
    return Interval(
        coverage=coverage,
        relative_half_width=relative_half_width,
        scale_floor=scale_floor,
        held_out_coverage=covered / len(scores),
        mean_width=float(np.mean(2 * half_widths)),
    )


def conformal_quantile(scores: np.ndarray, coverage: float) -> float:
    """The split-conformal quantile: for n exchangeable scores, a new one is at most the
    ⌈(n+1)·coverage⌉-th smallest with probability at least `coverage` (MAPIE's rule, in two
    lines). With too few rows for the coverage asked, the largest score is used."""
    ordered = np.sort(scores)
    rank = math.ceil((len(ordered) + 1) * coverage)
    return float(ordered[min(rank, len(ordered)) - 1])


def _describe(estimator) -> str:
    """The estimator as scikit-learn names it: its class, and its steps for a pipeline."""
    from sklearn.pipeline import Pipeline

    name = type(estimator).__name__
    if isinstance(estimator, Pipeline):
        return f"{name}({' → '.join(type(step).__name__ for _, step in estimator.steps)})"
    if hasattr(estimator, "regressor"):
        return f"{name}({_describe(estimator.regressor)})"
    # Its public module: sklearn.linear_model.LinearRegression, not sklearn.linear_model._base.
    return f"{'.'.join(type(estimator).__module__.split('.')[:2])}.{name}"


def score(estimator, data: TrainingData) -> Metrics:
    predicted = estimator.predict(data.inputs)
    return Metrics(
        r2=float(r2_score(data.target, predicted)),
        mae=float(mean_absolute_error(data.target, predicted)),
        rmse=float(root_mean_squared_error(data.target, predicted)),
    )


def _compare_with_active(report: RetrainReport) -> None:
    report.active = registry.active_version()
    if report.active is None:
        return
    try:
        report.active_metrics = score(registry.load_model(report.active), report.data)
    except ModelUnavailable as error:
        # A broken active model is no reason to refuse a good replacement; the report says so.
        report.active_problem = str(error)


def _replay_candidate(report: RetrainReport, estimator) -> None:
    """Under --gate replay: the fitted candidate replayed on the active version's answers, if
    enough of them have a real view count for a verdict; otherwise why not, in replay_note."""
    active = report.active
    if active is None:
        report.replay_note = gettext(
            "no version is active, so there are no served answers to replay; the "
            "cross-validation gate applies"
        )
        return
    outcomes = replayable_outcomes(active)
    if outcomes < MIN_OUTCOMES:
        report.replay_note = gettext(
            "only %(outcomes)s of %(version)s's answers have a real view count and a verdict "
            "needs %(needed)s; the cross-validation gate applies"
        ) % {
            "outcomes": display.count(outcomes),
            "version": active.label,
            "needed": display.count(MIN_OUTCOMES),
        }
        return
    # The predictor the stored version will load (the same coefficients, or the same estimator).
    report.replay = replay_predictor(predictor_for(estimator), candidate=None, incumbent=active)


def _apply_quality_gate(report: RetrainReport) -> None:
    floor = settings.VIEWSITE_MIN_R2
    if report.cv.r2 < floor:
        report.gate_reasons.append(
            gettext("cross-validated R² %(r2)s is below the minimum %(floor)s")
            % {"r2": display.decimal(report.cv.r2, 4), "floor": display.decimal(floor, 4)}
        )
    if report.replay is not None:
        replayed = report.replay
        if replayed.verdict == Verdict.WORSE:
            report.gate_reasons.append(
                gettext(
                    "replayed on %(outcomes)s of %(version)s's answers with a real view count, "
                    "it misses by %(more)s views more on average (95%% confidence interval "
                    "%(low)s to %(high)s)"
                )
                % {
                    "outcomes": display.count(replayed.outcomes),
                    "version": replayed.incumbent.label,
                    "more": display.count(replayed.mean_difference),
                    "low": display.count(replayed.ci_low),
                    "high": display.count(replayed.ci_high),
                }
            )
        return
    if report.active_metrics is not None:
        allowed_drop = settings.VIEWSITE_MAX_R2_DROP
        if report.cv.r2 < report.active_metrics.r2 - allowed_drop:
            report.gate_reasons.append(
                gettext(
                    "cross-validated R² %(r2)s is more than %(drop)s below the active model "
                    "%(version)s's R² %(active_r2)s on the same data"
                )
                % {
                    "r2": display.decimal(report.cv.r2, 4),
                    "drop": display.decimal(allowed_drop, 4),
                    "version": report.active.label,
                    "active_r2": display.decimal(report.active_metrics.r2, 4),
                }
            )
