"""Predicting and auditing: every request becomes audit rows before its answer leaves the server.

The doors (form, API) validate their input against the shared feature definitions and call
`predict`, or `record_refusal` for whatever refused a request. `predict` reads the active
version, computes the answers and writes their rows in one transaction, so every row names the
version that answered and a worker follows an activation on its next request. If the write
fails the caller sees the database error, never a silent success.
"""

import logging
import math
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.db import DatabaseError, transaction
from django.utils import timezone

from .. import features, metrics
from ..clients import client_ip
from ..models import USER_AGENT_MAX, Channel, PredictionRequest
from ..refusals import Refusal
from . import registry
from .errors import ModelUnavailable
from .inputs import stored_errors
from .predictors import interval_half_widths

logger = logging.getLogger(__name__)


def no_active_model() -> ModelUnavailable:
    return ModelUnavailable(refusal=Refusal("no_active_model"))


@dataclass(frozen=True)
class RequestInfo:
    """Who asked, through which door, and when the request started (for its latency)."""

    channel: Channel
    client_ip: str | None = None
    user_agent: str = ""
    user_id: int | None = None
    started: float | None = None

    @classmethod
    def from_request(
        cls, request, *, channel: Channel, started: float | None = None
    ) -> "RequestInfo":
        user = getattr(request, "user", None)
        return cls(
            channel=channel,
            client_ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX],
            user_id=user.pk if user is not None and user.is_authenticated else None,
            started=started,
        )


def predict(
    *,
    inputs: Sequence[Mapping[str, int]],
    raw_inputs: Sequence,
    info: RequestInfo,
    batch: bool = False,
) -> list[PredictionRequest]:
    """Predict views for validated inputs in one model call and audit them in one bulk insert.

    Each answer carries the active version's interval. Returns the audit rows, one per input,
    in order. Raises ModelUnavailable (after auditing
    the refusal) when no model can answer. The rows are all it writes: what a version served is
    summed from them (services/served.py), previews left out.
    """
    rows = [[item[name] for name in features.INPUT_NAMES] for item in inputs]
    records = _records(
        info,
        batch,
        [
            {
                "accepted": True,
                "raw_input": raw,
                **dict(zip(features.INPUT_NAMES, row, strict=True)),
            }
            for raw, row in zip(raw_inputs, rows, strict=True)
        ],
    )
    try:
        # On SQLite the transaction takes the write lock at BEGIN (IMMEDIATE), so the rows are
        # built before it and it holds only the lookup, the arithmetic and the insert.
        with transaction.atomic():
            version = registry.active_version()
            if version is None:
                raise no_active_model()
            predicted = registry.load_predictor(version).predict(rows)
            if not all(map(math.isfinite, predicted)):
                # Bounded inputs cannot do this to a sane model; refuse rather than serve NaN.
                raise ModelUnavailable(f"Model {version.label} produced a non-finite prediction.")
            # Stamped after the lookup, so no row is older than its version's activation.
            answered_at = timezone.now()
            for record, row, answer in zip(records, rows, predicted, strict=True):
                record.model_version = version
                record.views = round(answer, 2)
                record.extrapolated = version.is_extrapolating(row)
                record.created_at = answered_at
            if version.interval_relative_half_width is not None:
                half_widths = interval_half_widths(
                    predicted, version.interval_relative_half_width, version.interval_scale_floor
                ).tolist()
                for record, answer, half_width in zip(records, predicted, half_widths, strict=True):
                    # Views are never negative, so an interval starts at 0 at the lowest.
                    record.views_lower = round(max(0.0, answer - half_width), 2)
                    record.views_upper = round(answer + half_width, 2)
            PredictionRequest.objects.bulk_create(records)
    except ModelUnavailable as error:
        record_refusal(
            raw_inputs=raw_inputs,
            errors=[{"model": [error.stored()]}] * len(raw_inputs),
            info=info,
            batch=batch,
            reason="model_unavailable",
        )
        raise
    except DatabaseError:
        metrics.audit_write_failed(door=info.channel)
        raise
    metrics.predictions_answered(door=info.channel, version=version.label, count=len(records))
    logger.debug(
        "prediction channel=%s version=%s count=%d first_id=%s",
        info.channel,
        version.label,
        len(records),
        records[0].pk,
    )
    return records


def record_refusal(
    *,
    raw_inputs: Sequence,
    errors: Sequence,
    info: RequestInfo,
    batch: bool = False,
    reason: str = "invalid_input",
) -> list[PredictionRequest]:
    """Audit a refused request, whatever refused it: one row per input item, with its errors.

    `reason` is a short code for /metrics (invalid_input, model_unavailable, csrf,
    body_too_large, or the code of the API's refusal), never text from the request.
    """
    records = _records(
        info,
        batch,
        [
            # Errors can quote the input (an unknown field's name), so they are made safe too.
            {
                "accepted": False,
                "raw_input": _json_safe(raw),
                "errors": _json_safe(stored_errors(item_errors)),
            }
            for raw, item_errors in zip(raw_inputs, errors, strict=True)
        ],
    )
    try:
        PredictionRequest.objects.bulk_create(records)
    except DatabaseError:
        metrics.audit_write_failed(door=info.channel)
        raise
    metrics.requests_refused(door=info.channel, reason=reason, count=len(records))
    logger.info(
        "prediction refused channel=%s count=%d first_id=%s",
        info.channel,
        len(records),
        records[0].pk if records else None,
    )
    return records


def _records(info: RequestInfo, batch: bool, items: list[dict]) -> list[PredictionRequest]:
    """One audit row per item, with who asked and when: the caller inserts them at once."""
    shared = {
        "created_at": timezone.now(),
        "channel": info.channel,
        "latency_ms": (time.perf_counter() - info.started) * 1000 if info.started else 0.0,
        "client_ip": info.client_ip,
        "user_agent": info.user_agent,
        "user_id": info.user_id,
        "batch_id": uuid.uuid4() if batch else None,
    }
    return [
        PredictionRequest(**shared, **item, batch_index=index if batch else None)
        for index, item in enumerate(items)
    ]


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
