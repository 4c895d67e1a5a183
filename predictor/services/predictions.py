"""Predicting and auditing: every request becomes audit rows before its answer leaves the server.

The doors (form, API) validate their input against the shared feature definitions and then call
`predict` or `record_rejection`. Both write the audit rows (audit.py) before they return; if the
write fails the caller sees the database error, never a silent success. A prediction is logged
at DEBUG only: its audit row is the record, and nginx's access log has a line per request.
"""

import datetime
import logging
import math
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.utils import timezone
from rest_framework.settings import api_settings

from .. import features
from ..models import ModelVersion, PredictionRequest
from . import audit, registry
from .errors import ModelUnavailable

logger = logging.getLogger(__name__)

USER_AGENT_MAX = PredictionRequest._meta.get_field("user_agent").max_length


@dataclass(frozen=True)
class RequestInfo:
    """Who asked, through which door, and when the request started (for its latency)."""

    channel: str
    client_ip: str | None = None
    user_agent: str = ""
    user_id: int | None = None
    started: float = 0.0

    @classmethod
    def from_request(cls, request, *, channel: str, started: float | None = None) -> "RequestInfo":
        user = getattr(request, "user", None)
        return cls(
            channel=channel,
            client_ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX],
            user_id=user.pk if user is not None and user.is_authenticated else None,
            started=started if started is not None else time.perf_counter(),
        )


def client_ip(request) -> str | None:
    """The client's address, read through as many trusted proxies as NUM_PROXIES says.

    nginx appends the address it saw to X-Forwarded-For, so with N trusted proxies the client is
    the N-th entry from the end; anything before it was written by the client and is not trusted.
    """
    address = request.META.get("REMOTE_ADDR")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    num_proxies = api_settings.NUM_PROXIES
    if num_proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",")]
        address = hops[-min(num_proxies, len(hops))]
    try:
        validate_ipv46_address(address)
    except ValidationError:
        return None
    return address


@dataclass(frozen=True, slots=True)
class Prediction:
    """One answered input, as audited: the row's id and what the caller is told."""

    id: int
    likes: int
    shares: int
    views: float
    model_version: ModelVersion
    created_at: datetime.datetime

    @property
    def pk(self) -> int:
        return self.id


# How many times a request is answered anew when the active version changes under it: a retrain
# or a rollback is rare, so a second change within one request means something is wrong.
_VERSION_ATTEMPTS = 3


def predict(
    *,
    inputs: Sequence[Mapping[str, int]],
    raw_inputs: Sequence,
    info: RequestInfo,
    batch: bool = False,
) -> list[Prediction]:
    """Predict views for validated inputs in one predictor call and audit them in one insert.

    The answer comes from the version this process last saw active, and the audit rows are
    written only if it is still active (see audit.py); if it is not, the request is answered
    again by the version that is. Raises ModelUnavailable (after auditing the refusal) when no
    model can answer.
    """
    rows = [[item[name] for name in features.INPUT_NAMES] for item in inputs]
    try:
        for attempt in range(_VERSION_ATTEMPTS):
            version = registry.serving_version(refresh=attempt > 0)
            if version is None:
                raise ModelUnavailable(
                    "No model is active yet. Run `python manage.py retrain` first."
                )
            predicted = registry.load_predictor(version).predict(rows)
            if not all(map(math.isfinite, predicted)):
                # Bounded inputs cannot do this to a sane model; refuse rather than serve NaN.
                raise ModelUnavailable(f"Model {version.label} produced a non-finite prediction.")
            views = [round(value, 2) for value in predicted]
            try:
                created_at, ids = _audit(
                    info,
                    batch,
                    {"accepted": True, "model_version": version.pk},
                    ("raw_input", *features.INPUT_NAMES, "views"),
                    [
                        [raw, *row, answer]
                        for raw, row, answer in zip(raw_inputs, rows, views, strict=True)
                    ],
                    served_by=version,
                )
            except audit.VersionChanged:
                continue
            break
        else:
            raise ModelUnavailable("The active model kept changing; please try again.")
    except ModelUnavailable as error:
        record_rejection(
            raw_inputs=raw_inputs,
            errors=[{"model": [str(error)]}] * len(raw_inputs),
            info=info,
            batch=batch,
        )
        raise

    logger.debug(
        "prediction channel=%s version=%s count=%d first_id=%s",
        info.channel,
        version.label,
        len(ids),
        ids[0],
    )
    return [
        Prediction(row_id, likes, shares, answer, version, created_at)
        for row_id, (likes, shares), answer in zip(ids, rows, views, strict=True)
    ]


def record_rejection(
    *, raw_inputs: Sequence, errors: Sequence, info: RequestInfo, batch: bool = False
) -> list[int]:
    """Audit refused requests: one row per input item, each with its errors. Returns their ids."""
    _, ids = _audit(
        info,
        batch,
        {"accepted": False},
        ("raw_input", "errors"),
        [
            # Errors can quote the input (an unknown field's name), so they are made safe too.
            [_json_safe(raw), _json_safe(item_errors)]
            for raw, item_errors in zip(raw_inputs, errors, strict=True)
        ],
    )
    logger.info(
        "prediction refused channel=%s count=%d first_id=%s",
        info.channel,
        len(ids),
        ids[0] if ids else None,
    )
    return ids


def _audit(
    info: RequestInfo,
    batch: bool,
    outcome: dict,
    varying: tuple[str, ...],
    rows: list[list],
    served_by: ModelVersion | None = None,
) -> tuple[datetime.datetime, list[int]]:
    """Write one audit row per item, with who asked and when. Returns (created_at, ids)."""
    created_at = timezone.now()
    shared = {
        "created_at": created_at,
        "channel": info.channel,
        "latency_ms": _elapsed_ms(info),
        "client_ip": info.client_ip,
        "user_agent": info.user_agent,
        "user": info.user_id,
        "batch_id": uuid.uuid4() if batch else None,
        **outcome,
    }
    if batch:
        varying = (*varying, "batch_index")
        rows = [[*row, index] for index, row in enumerate(rows)]
    else:
        shared["batch_index"] = None
    return created_at, audit.insert(shared=shared, varying=varying, rows=rows, served_by=served_by)


def _elapsed_ms(info: RequestInfo) -> float:
    return (time.perf_counter() - info.started) * 1000 if info.started else 0.0


# Refused input is kept as evidence, but not without bound: a 2 MB string is stored as its start.
RAW_TEXT_MAX = 1000


def _json_safe(value):
    """Refused input as JSON can store it, bounded: non-finite floats and huge values as text.

    PostgreSQL's jsonb cannot hold the character U+0000, so it is kept as the text "\\u0000".
    """
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**18:
        return _bounded(str(value))
    if isinstance(value, str):
        return _bounded(value)
    if isinstance(value, Mapping):
        return {_bounded(str(key)): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def _bounded(text: str) -> str:
    text = text.replace("\x00", "\\u0000")
    if len(text) <= RAW_TEXT_MAX:
        return text
    return f"{text[:RAW_TEXT_MAX]}… [{len(text):,} characters]"
