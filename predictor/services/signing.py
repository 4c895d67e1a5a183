"""Signatures of model versions: proof that `retrain` made a version's files, not whoever can
write the database.

A version's files and their sha256 live in the same database, so a checksum only catches
accidents. `retrain` therefore signs a manifest of each version with an Ed25519 private key that
only the host running it holds (VIEWSITE_ARTIFACT_SIGNING_KEY), and every host that loads a version
first checks that signature against the public keys it trusts (VIEWSITE_ARTIFACT_VERIFY_KEYS, plus
the public half of its own signing key if it has one). The manifest binds the version's number
and features to the sha256 of its artifact, its serving spec and each plot: replacing a file and
its checksum, or moving a signature to another version's row, breaks it. Several trusted keys
let keys be rotated: a version names the fingerprint of the key that signed it.
"""

import base64
import binascii
import hashlib
import json
import logging
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from .. import metrics
from .errors import ArtifactIntegrityError, ModelUnavailable, ViewsiteError

logger = logging.getLogger(__name__)

MANIFEST_FORMAT = "viewsite-model-version/1"


class SigningUnavailable(ViewsiteError):
    """`retrain` was asked to store a version on a host without the signing key."""


class KeyConfigurationError(ValueError):
    """A key in the settings is not a base64 Ed25519 key; the message names the variable."""


def manifest(version) -> bytes:
    """What is signed: the version's identity and the sha256 of every file it serves or shows,
    as canonical JSON (sorted keys, no spaces, ASCII), so the same version gives the same bytes
    on every host and database."""
    return json.dumps(
        {
            "format": MANIFEST_FORMAT,
            "version": version.number,
            "features": list(version.features),
            "artifact_sha256": version.artifact_sha256,
            "serving_sha256": version.serving_sha256,
            "plots_sha256": {name: plot["sha256"] for name, plot in (version.plots or {}).items()},
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode("ascii")


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 16 hex digits of the sha256 of its raw bytes."""
    return hashlib.sha256(_raw_public(public_key)).hexdigest()[:16]


def generate_key_pair() -> tuple[str, str]:
    """A new (private, public) pair, each the base64 of its 32 raw bytes, as settings read it."""
    private = Ed25519PrivateKey.generate()
    raw_private = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return _b64(raw_private), _b64(_raw_public(private.public_key()))


NO_SIGNING_KEY = (
    "VIEWSITE_ARTIFACT_SIGNING_KEY is not set, so the model cannot be signed and no host would "
    "serve it. Nothing was stored. Run this where the signing key is set (make a pair with "
    "`manage.py make_signing_key`; deploy/README.md)."
)


def sign(version) -> None:
    """Sign `version`'s manifest with this host's signing key: sets `signature` and
    `signing_key` on the instance (the caller saves it). SigningUnavailable without a key."""
    private = require_signing_key()
    version.signature = _b64(private.sign(manifest(version)))
    version.signing_key = fingerprint(private.public_key())


def require_signing_key() -> Ed25519PrivateKey:
    """This host's signing key, or SigningUnavailable: called before any training, so a host
    that could not sign the result refuses before doing the work."""
    try:
        private = signing_key()
    except KeyConfigurationError as error:
        raise SigningUnavailable(f"{error}. Nothing was stored.") from error
    if private is None:
        raise SigningUnavailable(NO_SIGNING_KEY)
    return private


def verify(version) -> None:
    """Return only if `version` carries a valid signature by a trusted key; otherwise log
    critically and raise ArtifactIntegrityError (ModelUnavailable when the keys are misconfigured).
    """
    if not version.signature:
        _refuse(
            version,
            "it is not signed (it was stored before model signatures, or not by `retrain`); "
            "sign it with `manage.py sign_models` where the signing key is, or retrain",
        )
    try:
        trusted = trusted_keys()
    except KeyConfigurationError as error:
        logger.critical("artifact keys misconfigured error=%s", error)
        metrics.model_load_failed("key_configuration")
        raise ModelUnavailable(f"Model {version.label} cannot be served: {error}") from error
    key = trusted.get(version.signing_key)
    if key is None:
        _refuse(
            version,
            f"it is signed by key {version.signing_key or '(none)'}, which this server does not "
            "trust (VIEWSITE_ARTIFACT_VERIFY_KEYS)",
        )
    try:
        key.verify(base64.b64decode(version.signature, validate=True), manifest(version))
    except (InvalidSignature, binascii.Error):
        _refuse(version, "its signature does not match its files and checksums")


def signing_key() -> Ed25519PrivateKey | None:
    return _private_key(settings.VIEWSITE_ARTIFACT_SIGNING_KEY)


def trusted_keys() -> dict[str, Ed25519PublicKey]:
    """Fingerprint → public key: the listed verify keys, and this host's own signing key's."""
    return _trusted_keys(
        tuple(settings.VIEWSITE_ARTIFACT_VERIFY_KEYS), settings.VIEWSITE_ARTIFACT_SIGNING_KEY
    )


@lru_cache(maxsize=8)
def _trusted_keys(verify_keys: tuple[str, ...], signing: str) -> dict[str, Ed25519PublicKey]:
    keys = [public_key_from_text(text) for text in verify_keys if text.strip()]
    private = _private_key(signing)
    if private is not None:
        keys.append(private.public_key())
    return {fingerprint(key): key for key in keys}


@lru_cache(maxsize=8)
def _private_key(text: str) -> Ed25519PrivateKey | None:
    if not text.strip():
        return None
    return Ed25519PrivateKey.from_private_bytes(_raw(text, "VIEWSITE_ARTIFACT_SIGNING_KEY"))


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """A public key from the base64 of its raw bytes; KeyConfigurationError if it is not one."""
    return Ed25519PublicKey.from_public_bytes(_raw(text, "VIEWSITE_ARTIFACT_VERIFY_KEYS"))


def _raw(text: str, variable: str) -> bytes:
    """A key's 32 raw bytes from its base64; KeyConfigurationError naming `variable` if not."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except binascii.Error as error:
        raise KeyConfigurationError(
            f"{variable} holds a key that is not base64 ({error})"
        ) from error
    if len(raw) != 32:
        raise KeyConfigurationError(
            f"{variable} holds a key of {len(raw)} bytes; an Ed25519 key is 32 (base64 of the "
            "raw key, as `manage.py make_signing_key` prints it)"
        )
    return raw


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _refuse(version, reason: str):
    logger.critical(
        "artifact signature refused version=%s key=%s reason=%s",
        version.label,
        version.signing_key,
        reason,
    )
    metrics.artifact_integrity_failed("signature")
    raise ArtifactIntegrityError(
        f"Model {version.label} cannot be served: {reason}. Nothing of it was loaded."
    )
