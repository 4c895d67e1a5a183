"""Model versions: storing artifacts, choosing the active one, and loading it safely.

Loading a pickle runs code, so an artifact is read whole, its sha256 compared with the one its
ModelVersion row recorded, and only then unpickled. Loaded models are kept per process, keyed by
version and checksum, so a worker loads each version once and notices a new active version on the
very next request (one indexed query), without a restart.

scikit-learn and joblib are imported on the first load, not when a worker starts: a worker that
only ever serves a linear model answers from plain Python arithmetic (see predictors.py).
"""

import hashlib
import io
import logging
import threading
import warnings
from collections import OrderedDict

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.utils import timezone

from .. import features
from ..models import ModelVersion
from .errors import ArtifactIntegrityError, ModelUnavailable
from .predictors import Predictor, predictor_for

logger = logging.getLogger(__name__)

# A long-running worker sees many retrains; it only ever needs the active model and perhaps the
# one before it, so older ones are dropped.
_CACHE_SIZE = 3
_loaded: OrderedDict[tuple[int, str], tuple[object, Predictor]] = OrderedDict()
_loaded_lock = threading.Lock()


def clear_loaded_models() -> None:
    """Forget every model this process has loaded; the next request loads and verifies afresh."""
    with _loaded_lock:
        _loaded.clear()


def artifact_storage():
    return storages["artifacts"]


def active_version() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_active=True).first()


def store_artifact(*, estimator, number: int) -> tuple[str, str]:
    """Write the fitted estimator as a joblib artifact. Returns (storage name, sha256)."""
    import joblib

    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    payload = buffer.getvalue()
    sha256 = hashlib.sha256(payload).hexdigest()
    name = artifact_storage().save(f"model-v{number}-{sha256[:12]}.joblib", ContentFile(payload))
    return name, sha256


def load_model(version: ModelVersion):
    """The fitted estimator of `version`, verified against its recorded checksum."""
    return _load(version)[0]


def load_predictor(version: ModelVersion) -> Predictor:
    """What serves `version`'s predictions: built once per version per process."""
    return _load(version)[1]


def _load(version: ModelVersion) -> tuple[object, Predictor]:
    key = (version.pk, version.artifact_sha256)
    with _loaded_lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
    estimator = _read_verified(version)
    loaded = (estimator, predictor_for(estimator))
    with _loaded_lock:
        _loaded[key] = loaded
        while len(_loaded) > _CACHE_SIZE:
            _loaded.popitem(last=False)
    logger.info(
        "model loaded version=%s artifact=%s predictor=%s",
        version.label,
        version.artifact_name,
        type(loaded[1]).__name__,
    )
    return loaded


def _read_verified(version: ModelVersion):
    try:
        with artifact_storage().open(version.artifact_name, "rb") as artifact:
            payload = artifact.read()
    except OSError as error:
        logger.error("artifact unreadable version=%s error=%s", version.label, error)
        raise ModelUnavailable(
            f"Model {version.label} cannot be served: its artifact {version.artifact_name} cannot "
            "be read."
        ) from error
    actual = hashlib.sha256(payload).hexdigest()
    if actual != version.artifact_sha256:
        logger.critical(
            "artifact checksum mismatch version=%s artifact=%s expected=%s actual=%s",
            version.label,
            version.artifact_name,
            version.artifact_sha256,
            actual,
        )
        raise ArtifactIntegrityError(
            f"Model {version.label} cannot be served: its artifact does not match the recorded "
            "sha256, so it was not loaded."
        )
    import joblib
    from sklearn.exceptions import InconsistentVersionWarning

    try:
        with warnings.catch_warnings():
            # A model pickled by another scikit-learn may predict wrongly without failing.
            warnings.simplefilter("error", InconsistentVersionWarning)
            estimator = joblib.load(io.BytesIO(payload))
    except InconsistentVersionWarning as warning:
        raise ModelUnavailable(
            f"Model {version.label} was trained with scikit-learn "
            f"{warning.original_sklearn_version} and this server runs "
            f"{warning.current_sklearn_version}; retrain it here."
        ) from warning
    if list(version.features) != list(features.INPUT_NAMES) or getattr(
        estimator, "n_features_in_", None
    ) != len(features.INPUT_NAMES):
        raise ModelUnavailable(
            f"Model {version.label} expects inputs {version.features}, "
            f"not {list(features.INPUT_NAMES)}."
        )
    return estimator


def activate(*, version: ModelVersion) -> ModelVersion:
    """Make `version` the one every worker serves from its next request on.

    The artifact is loaded and verified first: rolling back to a version whose file is gone or
    altered would leave nothing able to answer.
    """
    load_model(version)
    with transaction.atomic():
        # Lock the rows so two activations at once end with exactly one active version.
        list(ModelVersion.objects.select_for_update().filter(is_active=True))
        ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
        version.is_active = True
        version.activated_at = timezone.now()
        version.save(update_fields=["is_active", "activated_at"])
    logger.info("model activated version=%s", version.label)
    return version
