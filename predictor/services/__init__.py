"""The one core of viewsite: train, store, load, predict and audit.

Views, serializers, forms, the admin and the management commands are doors into these functions
and stay a few lines each.
"""

from .datasets import TrainingData, load_training_data
from .errors import (
    ArtifactIntegrityError,
    ArtifactWriteError,
    DatasetError,
    ModelUnavailable,
    QualityGateRefused,
    ViewsiteError,
)
from .predictions import RequestInfo, predict, record_rejection
from .registry import activate, active_version, load_model
from .throttling import live_count, record_throttled
from .training import Metrics, RetrainReport, retrain

__all__ = [
    "ArtifactIntegrityError",
    "ArtifactWriteError",
    "DatasetError",
    "Metrics",
    "ModelUnavailable",
    "QualityGateRefused",
    "RequestInfo",
    "RetrainReport",
    "TrainingData",
    "ViewsiteError",
    "activate",
    "active_version",
    "live_count",
    "load_model",
    "load_training_data",
    "predict",
    "record_rejection",
    "record_throttled",
    "retrain",
]
