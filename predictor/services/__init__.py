"""The one core of viewsite: train, store, load, predict and audit.

Views, serializers, forms, the admin and the management commands are doors into these functions
and stay a few lines each.
"""

from ..features import served_views
from .cards import model_card
from .drift import FeatureDrift, VersionDrift, version_drift
from .errors import (
    ArtifactIntegrityError,
    DatasetError,
    ModelUnavailable,
    QualityGateRefused,
    ViewsiteError,
)
from .explanations import (
    ExplainFlagRefused,
    Explanation,
    explain,
    explain_answers,
    read_explain_flag,
)
from .inputs import InputRefused, read_input, read_inputs, refused_rows
from .outcomes import (
    OUTCOME_VIEWS_MAX,
    OutcomeItem,
    OutcomesRefused,
    check_outcomes,
    read_outcomes_file,
    record_outcomes,
)
from .periods import SinceRefused, read_since
from .predictions import (
    Answer,
    RequestInfo,
    extrapolation_sentence,
    no_active_model,
    predict,
    record_refusal,
)
from .registry import activate, active_version, load_model, load_predictor, read_plot
from .replay import (
    ReplayRefused,
    ReplayReport,
    Verdict,
    latest_replay,
    replay,
    store_replay,
)
from .throttling import live_count, record_throttled

# Training needs pandas and scikit-learn; a web worker never trains, so these load on first use.
_LAZY = {
    "TrainingData": "datasets",
    "load_training_data": "datasets",
    "ALGORITHMS": "algorithms",
    "Comparison": "training",
    "Metrics": "training",
    "RetrainReport": "training",
    "compare": "training",
    "retrain": "training",
}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ALGORITHMS",
    "OUTCOME_VIEWS_MAX",
    "Answer",
    "ArtifactIntegrityError",
    "Comparison",
    "DatasetError",
    "ExplainFlagRefused",
    "Explanation",
    "FeatureDrift",
    "InputRefused",
    "Metrics",
    "ModelUnavailable",
    "OutcomeItem",
    "OutcomesRefused",
    "QualityGateRefused",
    "ReplayRefused",
    "ReplayReport",
    "RequestInfo",
    "RetrainReport",
    "SinceRefused",
    "TrainingData",
    "Verdict",
    "VersionDrift",
    "ViewsiteError",
    "activate",
    "active_version",
    "check_outcomes",
    "compare",
    "explain",
    "explain_answers",
    "extrapolation_sentence",
    "latest_replay",
    "live_count",
    "load_model",
    "load_predictor",
    "load_training_data",
    "model_card",
    "no_active_model",
    "predict",
    "read_explain_flag",
    "read_input",
    "read_inputs",
    "read_outcomes_file",
    "read_plot",
    "read_since",
    "record_outcomes",
    "record_refusal",
    "record_throttled",
    "refused_rows",
    "replay",
    "retrain",
    "served_views",
    "store_replay",
    "version_drift",
]
