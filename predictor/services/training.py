"""Retraining: from a data file to a verified, versioned, activated model, or a clear refusal.

The quality estimate is honest (k-fold cross-validation with a fixed seed, never the training fit);
the deployed model is fitted on every row, so the course's file reproduces the course's
coefficients exactly. Nothing is written until the candidate has passed the quality gate.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sklearn
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error
from sklearn.model_selection import KFold, cross_validate

from .. import features
from ..models import ModelVersion
from . import registry
from .datasets import TrainingData, load_training_data
from .errors import ArtifactWriteError, ModelUnavailable, QualityGateRefused

logger = logging.getLogger(__name__)

CV_FOLDS = 5
CV_SEED = 20240601


@dataclass(frozen=True)
class Metrics:
    r2: float
    mae: float
    rmse: float


@dataclass
class RetrainReport:
    data: TrainingData
    algorithm: str
    parameters: dict
    cv: Metrics
    cv_folds: int
    active: ModelVersion | None = None
    active_metrics: Metrics | None = None
    active_problem: str = ""
    gate_reasons: list[str] = field(default_factory=list)
    forced: bool = False
    dry_run: bool = False
    version: ModelVersion | None = None

    @property
    def gate_passed(self) -> bool:
        return not self.gate_reasons

    @property
    def activated(self) -> bool:
        return self.version is not None and self.version.is_active


def retrain(
    *, data_path: Path | str, activate: bool = True, force: bool = False, dry_run: bool = False
) -> RetrainReport:
    """Train a candidate on `data_path`, judge it, and store and activate it if it passes.

    Raises DatasetError for a bad file and QualityGateRefused when the candidate is not good enough
    (unless `force`); in both cases nothing is written and the active model stays as it was.
    """
    data = load_training_data(data_path)
    estimator = LinearRegression()
    cv, folds = _cross_validate(estimator, data)
    estimator.fit(data.inputs, data.target)

    report = RetrainReport(
        data=data,
        algorithm=f"sklearn.linear_model.{type(estimator).__name__}",
        parameters={
            "coefficients": dict(
                zip(features.INPUT_NAMES, map(float, estimator.coef_), strict=True)
            ),
            "intercept": float(estimator.intercept_),
        },
        cv=cv,
        cv_folds=folds,
        forced=force,
        dry_run=dry_run,
    )
    _compare_with_active(report)
    _apply_quality_gate(report)
    logger.info(
        "retrain candidate data=%s rows=%d cv_r2=%.4f gate=%s",
        data.file_name,
        data.rows,
        cv.r2,
        "passed" if report.gate_passed else "; ".join(report.gate_reasons),
    )
    if not report.gate_passed and not force:
        raise QualityGateRefused(
            "The candidate was not stored: "
            + "; ".join(report.gate_reasons)
            + ". Fix the data, or pass --force to store and activate it anyway.",
            report,
        )
    if dry_run:
        return report

    with transaction.atomic():
        number = (ModelVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
        try:
            stored = registry.store_artifacts(estimator=estimator, number=number)
        except OSError as error:
            raise ArtifactWriteError(
                f"The model artifact could not be written ({error.strerror or error}). Nothing "
                "was stored and the active model is unchanged. Free some space and retrain."
            ) from error
        report.version = ModelVersion.objects.create(
            number=number,
            algorithm=report.algorithm,
            features=list(features.INPUT_NAMES),
            parameters=report.parameters,
            cv_r2=cv.r2,
            cv_mae=cv.mae,
            cv_rmse=cv.rmse,
            cv_folds=folds,
            training_rows=data.rows,
            rows_filled=data.rows_filled,
            data_file_name=data.file_name,
            data_sha256=data.sha256,
            artifact_name=stored.name,
            artifact_sha256=stored.sha256,
            serving_name=stored.serving_name,
            serving_sha256=stored.serving_sha256,
            sklearn_version=sklearn.__version__,
        )
        if activate:
            registry.activate(version=report.version)
    logger.info("retrain stored version=%s activated=%s", report.version.label, report.activated)
    return report


def score(estimator, data: TrainingData) -> Metrics:
    predicted = estimator.predict(data.inputs)
    return Metrics(
        r2=float(r2_score(data.target, predicted)),
        mae=float(mean_absolute_error(data.target, predicted)),
        rmse=float(root_mean_squared_error(data.target, predicted)),
    )


def _cross_validate(estimator, data: TrainingData) -> tuple[Metrics, int]:
    folds = min(CV_FOLDS, data.rows)
    results = cross_validate(
        estimator,
        data.inputs,
        data.target,
        cv=KFold(n_splits=folds, shuffle=True, random_state=CV_SEED),
        scoring=("r2", "neg_mean_absolute_error", "neg_root_mean_squared_error"),
    )
    metrics = Metrics(
        r2=float(np.mean(results["test_r2"])),
        mae=float(-np.mean(results["test_neg_mean_absolute_error"])),
        rmse=float(-np.mean(results["test_neg_root_mean_squared_error"])),
    )
    return metrics, folds


def _compare_with_active(report: RetrainReport) -> None:
    report.active = registry.active_version()
    if report.active is None:
        return
    try:
        report.active_metrics = score(registry.load_model(report.active), report.data)
    except ModelUnavailable as error:
        # A broken active model is no reason to refuse a good replacement; the report says so.
        report.active_problem = str(error)


def _apply_quality_gate(report: RetrainReport) -> None:
    floor = settings.VIEWSITE_MIN_R2
    if report.cv.r2 < floor:
        report.gate_reasons.append(
            f"cross-validated R² {report.cv.r2:.4f} is below the minimum {floor:.4f}"
        )
    if report.active_metrics is not None:
        allowed_drop = settings.VIEWSITE_MAX_R2_DROP
        if report.cv.r2 < report.active_metrics.r2 - allowed_drop:
            report.gate_reasons.append(
                f"cross-validated R² {report.cv.r2:.4f} is more than {allowed_drop:.4f} below the "
                f"active model {report.active.label}'s R² {report.active_metrics.r2:.4f} on the "
                "same data"
            )
