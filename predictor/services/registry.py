"""Model versions: storing their files, choosing the active one, and loading it safely.

A version's files (its joblib artifact, a linear model's serving spec, its card's plots) are
ModelFile rows, written in the transaction that writes the version, so every app host reads them
from the database they already share and a failed retrain leaves nothing behind. Loading a pickle
runs code, and whoever can write the database could replace a file and its checksum together;
so before anything is read its version's signature is verified (signing.py), then the bytes'
sha256 compared with the signed one, and only then is the artifact unpickled or the spec parsed.
What a worker builds from a version is kept per process, keyed by version, checksums and
signature, so each version is loaded once and a changed row is loaded (and verified) afresh.
Which version is active is asked of the database at most once a second per process
(VIEWSITE_ACTIVE_VERSION_MAX_AGE), not by every request: an activation reaches every worker of
every host within that bound, and at once in the process that made it. Every audit row still
names the version that computed its answer, and none is stamped before that version's
activation: a worker only serves a version it has read as active, and stamps its rows after.

scikit-learn and joblib are imported on the first unpickling, not when a worker starts: a worker
that serves a linear model answers from its verified JSON coefficients with NumPy alone.
"""

import hashlib
import io
import json
import logging
import math
import threading
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .. import features, metrics
from ..models import Activation, ModelFile, ModelVersion
from . import plots, signing
from .errors import ArtifactIntegrityError, ModelUnavailable
from .predictors import Predictor, predictor_for, predictor_from_spec, serving_spec

logger = logging.getLogger(__name__)


class _PerVersion:
    """What this process has built for each model version, keyed by its checksums.

    A long-running worker sees many retrains but only ever needs the active version and perhaps
    the one before it, so the oldest entries are dropped.
    """

    def __init__(self, size: int):
        self.size = size
        self.entries: OrderedDict[tuple, object] = OrderedDict()
        self.lock = threading.Lock()

    def get_or_build(self, key: tuple, build):
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
        value = build()  # outside the lock: loading may take a while
        with self.lock:
            self.entries[key] = value
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


_versions = _PerVersion(size=3)
_estimators = _PerVersion(size=3)
_predictors = _PerVersion(size=3)


class _ServingVersion:
    """The active version as this process last read it, and when (time.monotonic()) it asked.

    One tuple, replaced whole, so a thread never sees a version with another read's time; two
    threads that find it old at once both ask, which costs a lookup, never a wrong answer.
    """

    def __init__(self):
        self.read: tuple[float, ModelVersion | None] = (-math.inf, None)

    def forget(self) -> None:
        self.read = (-math.inf, None)


_serving = _ServingVersion()


def clear_loaded_models() -> None:
    """Forget every model this process has loaded, and which one is active; the next request
    asks the database and loads and verifies afresh."""
    for cache in (_versions, _estimators, _predictors):
        cache.clear()
    _serving.forget()


def active_version() -> ModelVersion | None:
    """The version active now: one lookup on the partial unique index of `is_active`.

    It asks only for what identifies the version; the rest of the row, whose served fields never
    change after `retrain` writes them, is read once per version per process. What it finds is
    what `serving_version` answers with until it is VIEWSITE_ACTIVE_VERSION_MAX_AGE old.
    """
    asked = time.monotonic()  # before the lookup: the bound counts from what it could see
    active = ModelVersion.objects.filter(is_active=True).order_by()
    # The same columns as _key, in the same order.
    keys = list(active.values_list("pk", "artifact_sha256", "serving_sha256", "signature")[:1])
    version = (
        _versions.get_or_build(keys[0], lambda: ModelVersion.objects.get(pk=keys[0][0]))
        if keys
        else None
    )
    _serving.read = (asked, version)
    return version


def serving_version() -> ModelVersion | None:
    """The version that answers this process's predictions: the active one, as read from the
    database at most VIEWSITE_ACTIVE_VERSION_MAX_AGE seconds ago (one second by default).

    The lookup was a quarter of an answered request's cost when every request made it
    (bench/README.md); a bound of a second keeps what an activation promises people (it is
    served everywhere within a second) and costs one lookup a second per process.
    """
    asked, version = _serving.read
    if time.monotonic() - asked < settings.VIEWSITE_ACTIVE_VERSION_MAX_AGE:
        return version
    return active_version()


@dataclass(frozen=True)
class StoredFile:
    """One file of a version, ready to be written: its name, its bytes and their sha256."""

    name: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def model_files(*, estimator, number: int) -> tuple[StoredFile, StoredFile | None]:
    """The fitted estimator as a joblib artifact, and a linear one's coefficients as JSON."""
    import joblib

    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    artifact = _named(buffer.getvalue(), f"model-v{number}-{{}}.joblib")
    spec = serving_spec(estimator)
    if spec is None:
        return artifact, None
    return artifact, _named(json.dumps(spec, indent=2).encode(), f"model-v{number}-{{}}.json")


def plot_files(drawn, *, number: int) -> tuple[dict, list[StoredFile]]:
    """The card's plots as files, and what the version's `plots` records of them."""
    files = [_named(plot.image, f"model-v{number}-{{}}-{plot.name}.png") for plot in drawn]
    recorded = {
        plot.name: {
            "title": plot.title,
            "language": plot.language,
            "width": plots.SIZE_INCHES[0] * plots.DPI,
            "height": plots.SIZE_INCHES[1] * plots.DPI,
            "name": file.name,
            "sha256": file.sha256,
        }
        for plot, file in zip(drawn, files, strict=True)
    }
    return recorded, files


def _named(content: bytes, name_pattern: str) -> StoredFile:
    # Content-addressed: a name says which bytes it should hold.
    return StoredFile(name_pattern.format(hashlib.sha256(content).hexdigest()[:12]), content)


def store_version(*, version: ModelVersion, files: list[StoredFile]) -> ModelVersion:
    """Sign `version` (an unsaved row naming `files` and their sha256) and write it with the
    files' bytes. Call it inside the transaction that decides the version's number: either the
    version and all its files are stored, or nothing is."""
    signing.sign(version)
    version.save(force_insert=True)
    ModelFile.objects.bulk_create(
        [ModelFile(version=version, name=file.name, content=file.content) for file in files]
    )
    return version


def sign_versions(*, dry_run: bool = False) -> tuple[list[str], list[str]]:
    """Sign every stored version this key may sign (sign_version), in one transaction that holds
    their rows; rolled back for a dry run. Returns the labels signed and, for each version that
    cannot be, why."""
    signed, refused = [], []
    with transaction.atomic():
        for version in ModelVersion.objects.select_for_update().order_by("number"):
            try:
                if sign_version(version):
                    signed.append(version.label)
            except ModelUnavailable as error:
                refused.append(str(error))
        if dry_run:
            transaction.set_rollback(True)
    return signed, refused


def sign_version(version: ModelVersion) -> bool:
    """Sign a stored version with this host's key: one stored unsigned (before signatures
    existed), or one whose signature by another trusted key holds (to retire that key). Its files
    must be present and match the checksums its row records; the rest of the row is trusted as
    it is. False if this key signed it already. ArtifactIntegrityError for a version whose
    signature fails: that is tampering, and only a retrain replaces it."""
    current = signing.fingerprint(signing.require_signing_key().public_key())
    if version.signature:
        signing.verify(version)
        if version.signing_key == current:
            return False
    for name, sha256 in _files_of(version):
        _read_checked(version, name, sha256)
    signing.sign(version)
    version.save(update_fields=["signature", "signing_key"])
    logger.info("model version signed version=%s key=%s", version.label, version.signing_key)
    return True


def _files_of(version: ModelVersion) -> list[tuple[str, str]]:
    files = [(version.artifact_name, version.artifact_sha256)]
    if version.serving_name:
        files.append((version.serving_name, version.serving_sha256))
    files += [(plot["name"], plot["sha256"]) for plot in (version.plots or {}).values()]
    return files


def read_plot(version: ModelVersion, plot_name: str) -> bytes:
    """A plot of `version`'s card, verified like the artifact; ModelUnavailable if it cannot be."""
    plot = version.plots.get(plot_name)
    if plot is None:
        raise ModelUnavailable(f"Model {version.label} has no plot {plot_name!r}.")
    return _read_verified(version, plot["name"], plot["sha256"])


def load_model(version: ModelVersion):
    """The fitted estimator of `version`, unpickled once its artifact matches its checksum."""
    return _estimators.get_or_build(_key(version), lambda: _unpickle_verified(version))


def load_predictor(version: ModelVersion) -> Predictor:
    """What serves `version`'s predictions: built once per version per process, from verified
    files only. Both files of a linear version are verified; only the small one is parsed."""
    return _predictors.get_or_build(_key(version), lambda: _build_predictor(version))


def _key(version: ModelVersion) -> tuple:
    return (version.pk, version.artifact_sha256, version.serving_sha256, version.signature)


def _build_predictor(version: ModelVersion) -> Predictor:
    if not version.serving_name:
        predictor = predictor_for(load_model(version))
    else:
        _read_verified(version, version.artifact_name, version.artifact_sha256)
        payload = _read_verified(version, version.serving_name, version.serving_sha256)
        try:
            predictor = predictor_from_spec(json.loads(payload))
        except (ValueError, KeyError, TypeError) as error:
            metrics.model_load_failed("unreadable")
            raise ModelUnavailable(
                f"Model {version.label} cannot be served: its serving file {version.serving_name} "
                f"is not one this server can read ({error})."
            ) from error
    logger.info("predictor ready version=%s kind=%s", version.label, type(predictor).__name__)
    return predictor


def _read_verified(version: ModelVersion, name: str, expected_sha256: str) -> bytes:
    """The bytes of one of `version`'s files, once the version's signature holds (so the
    checksum is the one `retrain` signed) and the bytes match that checksum."""
    signing.verify(version)
    return _read_checked(version, name, expected_sha256)


def _read_checked(version: ModelVersion, name: str, expected_sha256: str) -> bytes:
    content = (
        ModelFile.objects.filter(version=version, name=name)
        .values_list("content", flat=True)
        .first()
    )
    if content is None:
        logger.error("model file missing version=%s name=%s", version.label, name)
        metrics.model_load_failed("missing_file")
        raise ModelUnavailable(
            f"Model {version.label} cannot be served: its artifact {name} cannot be read."
        )
    payload = bytes(content)  # a memoryview from some database drivers
    actual = hashlib.sha256(payload).hexdigest()
    if actual != expected_sha256:
        logger.critical(
            "artifact checksum mismatch version=%s name=%s expected=%s actual=%s",
            version.label,
            name,
            expected_sha256,
            actual,
        )
        metrics.artifact_integrity_failed("checksum")
        raise ArtifactIntegrityError(
            f"Model {version.label} cannot be served: its artifact {name} does not match the "
            "recorded sha256, so it was not loaded."
        )
    return payload


def _unpickle_verified(version: ModelVersion):
    payload = _read_verified(version, version.artifact_name, version.artifact_sha256)
    import joblib
    from sklearn.exceptions import InconsistentVersionWarning

    try:
        with warnings.catch_warnings():
            # A model pickled by another scikit-learn may predict wrongly without failing.
            warnings.simplefilter("error", InconsistentVersionWarning)
            estimator = joblib.load(io.BytesIO(payload))
    except InconsistentVersionWarning as warning:
        metrics.model_load_failed("incompatible")
        raise ModelUnavailable(
            f"Model {version.label} was trained with scikit-learn "
            f"{warning.original_sklearn_version} and this server runs "
            f"{warning.current_sklearn_version}; retrain it here."
        ) from warning
    if list(version.features) != list(features.INPUT_NAMES) or getattr(
        estimator, "n_features_in_", None
    ) != len(features.INPUT_NAMES):
        metrics.model_load_failed("incompatible")
        raise ModelUnavailable(
            f"Model {version.label} expects inputs {version.features}, "
            f"not {list(features.INPUT_NAMES)}."
        )
    logger.info("model loaded version=%s artifact=%s", version.label, version.artifact_name)
    return estimator


def activate(
    *,
    version: ModelVersion,
    door: Activation.Door,
    user_id: int | None = None,
    reason: str = "",
    reason_code: Activation.Reason = Activation.Reason.STATED,
    reason_parameters: dict | None = None,
) -> ModelVersion:
    """Make `version` the one every worker serves from its next request on, and record who did
    it, through which door, and why (an append-only history row).

    Why is `reason`, a person's words, or a code and its parameters (Activation.Reason) that
    Activation.reason_text says in the reader's language: every activation is written here.

    Its signature and artifact are verified and unpickled in full first (and what workers will
    serve from it built): rolling back to a version whose files are gone, altered, unsigned or
    pickled by another scikit-learn would leave nothing trustworthy able to answer.
    """
    load_model(version)
    load_predictor(version)
    with transaction.atomic():
        # Lock the rows so two activations at once end with exactly one active version.
        previous = ModelVersion.objects.select_for_update().filter(is_active=True).first()
        ModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
        version.is_active = True
        version.activated_at = timezone.now()
        version.save(update_fields=["is_active", "activated_at"])
        Activation.objects.create(
            version=version,
            previous=previous,
            activated_at=version.activated_at,
            door=door,
            user_id=user_id,
            reason=reason[: Activation.REASON_MAX],
            reason_code=reason_code,
            reason_parameters=reason_parameters or {},
        )
    # This process serves the new version from its next request; the others within the bound.
    _serving.forget()
    logger.info(
        "model activated version=%s previous=%s door=%s user=%s",
        version.label,
        previous.label if previous else None,
        door,
        user_id,
    )
    return version
