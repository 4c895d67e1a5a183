"""Model versions: storing artifacts, choosing the active one, and loading it safely.

Loading a pickle runs code, so an artifact is read whole, its sha256 compared with the one its
ModelVersion row recorded, and only then unpickled. Loaded models are kept per process, keyed by
version and checksum, so a worker loads each version once and answers with a new active version
from the very next request, without a restart and without a query per request (see
`serving_version`).

scikit-learn and joblib are imported on the first load, not when a worker starts: a worker that
only ever serves a linear model answers with NumPy alone (see predictors.py).
"""

import hashlib
import io
import logging
import threading
import warnings
from collections import OrderedDict

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection, transaction
from django.utils import timezone

from .. import features
from ..models import ModelVersion
from .errors import ArtifactIntegrityError, ModelUnavailable
from .predictors import Predictor, predictor_for, recorded_linear_predictor

logger = logging.getLogger(__name__)


class _PerVersion:
    """What this process has built for each model version, keyed by (id, artifact checksum).

    A long-running worker sees many retrains but only ever needs the active version and perhaps
    the one before it, so the oldest entries are dropped.
    """

    def __init__(self, size: int):
        self.size = size
        self.entries: OrderedDict[tuple[int, str], object] = OrderedDict()
        self.lock = threading.Lock()

    def get_or_build(self, version: ModelVersion, build):
        key = (version.pk, version.artifact_sha256)
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
        value = build(version)  # outside the lock: loading may take a while
        if value is None:
            return None
        with self.lock:
            self.entries[key] = value
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


_estimators = _PerVersion(size=3)
_predictors = _PerVersion(size=3)
# The active version's row, fetched again only when the active (id, checksum) changes.
_active = _PerVersion(size=1)
_ACTIVE_SQL = f"SELECT id, artifact_sha256 FROM {ModelVersion._meta.db_table} WHERE is_active = %s"


def clear_loaded_models() -> None:
    """Forget every model this process has loaded; the next request loads and verifies afresh."""
    global _serving
    for cache in (_estimators, _predictors, _active):
        cache.clear()
    _serving = None


def artifact_storage():
    return storages["artifacts"]


def active_version() -> ModelVersion | None:
    """The version active now, asked of the database: one indexed lookup.

    The query is plain SQL (compiling it through the ORM costs more than running it), and the
    ModelVersion row is fetched only when the active (id, checksum) pair changes; the fields
    served from (number, artifact, parameters) never change after `retrain` writes them.
    """
    with connection.cursor() as cursor:
        cursor.execute(_ACTIVE_SQL, [True])
        row = cursor.fetchone()
    if row is None:
        return None
    return _active.get_or_build(
        ModelVersion(pk=row[0], artifact_sha256=row[1]),
        lambda key: ModelVersion.objects.filter(pk=key.pk).first(),
    )


# The version this process last found active: what it answers with until told otherwise.
_serving: ModelVersion | None = None


def serving_version(*, refresh: bool = False) -> ModelVersion | None:
    """The version to answer with, without a query per request.

    This is the version this process last found active. It may have been replaced since; that
    is why the audit rows of an answer are written only while their version is still active
    (audit.insert checks it in the INSERT itself), and why a caller whose rows were refused
    asks again with `refresh=True`. No version, or a refresh, means asking the database.
    """
    global _serving
    if refresh or _serving is None:
        _serving = active_version()
    return _serving


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
    return _estimators.get_or_build(version, _read_verified)


def load_predictor(version: ModelVersion) -> Predictor:
    """What serves `version`'s predictions: built once per version per process.

    A linear model is served from the coefficients `retrain` recorded beside the artifact's
    checksum, once the artifact's bytes are checked against it: no unpickling, so a web worker
    never imports scikit-learn (or the pandas and SciPy it brings). `activate` has already
    unpickled and verified the artifact in full. Anything else is unpickled and served by its
    own `predict`.
    """
    return _predictors.get_or_build(version, _build_predictor)


def _build_predictor(version: ModelVersion) -> Predictor:
    predictor = recorded_linear_predictor(version)
    if predictor is not None:
        _verify_checksum(version, _read_artifact(version))
    else:
        predictor = predictor_for(load_model(version))
    logger.info("predictor ready version=%s kind=%s", version.label, type(predictor).__name__)
    return predictor


def _read_artifact(version: ModelVersion) -> bytes:
    try:
        with artifact_storage().open(version.artifact_name, "rb") as artifact:
            return artifact.read()
    except OSError as error:
        logger.error("artifact unreadable version=%s error=%s", version.label, error)
        raise ModelUnavailable(
            f"Model {version.label} cannot be served: its artifact {version.artifact_name} cannot "
            "be read."
        ) from error


def _verify_checksum(version: ModelVersion, payload: bytes) -> None:
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


def _read_verified(version: ModelVersion):
    payload = _read_artifact(version)
    _verify_checksum(version, payload)
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
    logger.info("model loaded version=%s artifact=%s", version.label, version.artifact_name)
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
