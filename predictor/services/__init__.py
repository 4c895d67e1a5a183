"""The one core of viewsite: train, store, load, predict and audit.

Views, serializers, forms, the admin and the management commands are doors into these functions
and stay a few lines each.
"""

from .errors import (
    ArtifactIntegrityError,
    ArtifactWriteError,
    DatasetError,
    ModelUnavailable,
    QualityGateRefused,
    ViewsiteError,
)
from .predictions import RequestInfo, predict, record_refusal
from .registry import activate, active_version, load_model, load_predictor
from .throttling import live_count, record_throttled

# Training needs pandas and scikit-learn; a web worker never trains, so these load on first use.
_LAZY = {
    "TrainingData": "datasets",
    "load_training_data": "datasets",
    "Metrics": "training",
    "RetrainReport": "training",
    "retrain": "training",
}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "load_predictor",
    "load_training_data",
    "predict",
    "record_refusal",
    "record_throttled",
    "retrain",
]
