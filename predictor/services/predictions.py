"""Predicting and auditing: every request becomes audit rows before its answer leaves the server.

The doors (form, API) validate their input against the shared feature definitions and then call
`predict` or `record_rejection`. Both write the audit rows in one transaction and return them;
if the write fails the caller sees the database error, never a silent success.
"""

import logging
import math
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.db import transaction
from rest_framework.settings import api_settings

from .. import features
from ..models import PredictionRequest
from . import registry
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


def predict(
    *,
    inputs: Sequence[Mapping[str, int]],
    raw_inputs: Sequence,
    info: RequestInfo,
    batch: bool = False,
) -> list[PredictionRequest]:
    """Predict views for validated inputs in one predictor call and audit them in one bulk insert.

    Raises ModelUnavailable (after auditing the refusal) when no model can answer.
    """
    try:
        version = registry.active_version()
        if version is None:
            raise ModelUnavailable("No model is active yet. Run `python manage.py retrain` first.")
        predictor = registry.load_predictor(version)
        predicted = predictor.predict(
            [[item[name] for name in features.INPUT_NAMES] for item in inputs]
        )
        if not all(map(math.isfinite, predicted)):
            # Bounded inputs cannot do this to a sane model; refuse rather than serve NaN.
            raise ModelUnavailable(f"Model {version.label} produced a non-finite prediction.")
    except ModelUnavailable as error:
        record_rejection(
            raw_inputs=raw_inputs,
            errors=[{"model": [str(error)]}] * len(raw_inputs),
            info=info,
            batch=batch,
        )
        raise

    rows = _audit(
        info,
        batch,
        [
            {
                "accepted": True,
                "raw_input": raw,
                "likes": item[features.LIKES.name],
                "shares": item[features.SHARES.name],
                "views": round(views, 2),
                "model_version": version,
            }
            for item, raw, views in zip(inputs, raw_inputs, predicted, strict=True)
        ],
    )
    logger.info(
        "prediction channel=%s version=%s count=%d first_id=%s latency_ms=%.2f",
        info.channel,
        version.label,
        len(rows),
        rows[0].pk if rows else None,
        rows[0].latency_ms if rows else 0.0,
    )
    return rows


def record_rejection(
    *, raw_inputs: Sequence, errors: Sequence, info: RequestInfo, batch: bool = False
) -> list[PredictionRequest]:
    """Audit refused requests: one row per input item, each with its errors."""
    rows = _audit(
        info,
        batch,
        [
            {"accepted": False, "raw_input": _json_safe(raw), "errors": item_errors}
            for raw, item_errors in zip(raw_inputs, errors, strict=True)
        ],
    )
    logger.info(
        "prediction refused channel=%s count=%d first_id=%s",
        info.channel,
        len(rows),
        rows[0].pk if rows else None,
    )
    return rows


def _audit(info: RequestInfo, batch: bool, outcomes: list[dict]) -> list[PredictionRequest]:
    """Write one audit row per outcome, with who asked and when, in one transaction."""
    batch_id = uuid.uuid4() if batch else None
    latency_ms = _elapsed_ms(info)
    rows = [
        PredictionRequest(
            channel=info.channel,
            latency_ms=latency_ms,
            client_ip=info.client_ip,
            user_agent=info.user_agent,
            user_id=info.user_id,
            batch_id=batch_id,
            batch_index=index if batch else None,
            **outcome,
        )
        for index, outcome in enumerate(outcomes)
    ]
    with transaction.atomic():
        PredictionRequest.objects.bulk_create(rows, batch_size=2000)
    return rows


def _elapsed_ms(info: RequestInfo) -> float:
    return (time.perf_counter() - info.started) * 1000 if info.started else 0.0


# Refused input is kept as evidence, but not without bound: a 2 MB string is stored as its start.
RAW_TEXT_MAX = 1000


def _json_safe(value):
    """Refused input as JSON can store it, bounded: non-finite floats and huge values as text."""
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
    if len(text) <= RAW_TEXT_MAX:
        return text
    return f"{text[:RAW_TEXT_MAX]}… [{len(text):,} characters]"
