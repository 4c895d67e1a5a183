"""Predicting and auditing: every request becomes audit rows before its answer leaves the server.

The doors (form, API) validate their input against the shared feature definitions and call
`predict`, or `record_refusal` for whatever refused a request. `predict` takes the version
this process serves (registry.serving_version: the active one, read within
VIEWSITE_ACTIVE_VERSION_MAX_AGE), computes the answers and writes their rows in one write
(services.audit_writes), so every row names the version that answered. The rows are all a
request writes. If the write fails the caller sees the database error, never a silent success.
"""

import logging
import math
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from operator import itemgetter
from typing import NamedTuple

import numpy as np
from django.db import DatabaseError
from django.utils import timezone
from django.utils.translation import gettext

from .. import display, features, metrics
from ..clients import client_ip
from ..models import USER_AGENT_MAX, Channel, ModelVersion, PredictionRequest
from ..refusals import Refusal
from . import audit_writes, registry
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


class Answer(NamedTuple):
    """One answered input: what a door shows (the form's record, the API's item, the command's
    sentence or output line). A tuple, not the model instance: a batch of 10,000 builds 10,000
    of them.

    `views` is the answer served (served_views of what the model computed); the audit row keeps
    `computed_views`, the model's own figure. The interval holds `views`."""

    pk: int
    likes: int
    shares: int
    views: float
    views_lower: float | None
    views_upper: float | None
    model_version: ModelVersion
    created_at: datetime
    computed_views: float
    extrapolated: bool

    @property
    def id(self) -> int:
        """The audit row's id, by the name the model also gives it."""
        return self.pk

    @property
    def extrapolation(self) -> str:
        """The sentence that says this answer lies outside the training data ("" inside it),
        in the active language."""
        if not self.extrapolated:
            return ""
        row = [getattr(self, name) for name in features.INPUT_NAMES]
        return extrapolation_sentence(self.model_version, row)


# --- The answer served, and its interval ----------------------------------------------------------
# The answer served is the model's figure floored at the views' minimum (features.served_views,
# where the rule and its reason are); the interval is the one for that answer.


def served_intervals(
    served: Sequence[float], version: ModelVersion
) -> tuple[list[float | None], list[float | None]]:
    """The interval's ends for each served answer, rounded as the answers are: the version's
    interval around the answer, its low end at the views' floor at the lowest. Taken around the
    served answer (not the computed one), so that it always holds it (rounding keeps order)."""
    if version.interval_relative_half_width is None:
        return [None] * len(served), [None] * len(served)
    answers = np.asarray(served, dtype=np.float64)
    half_widths = interval_half_widths(
        answers, version.interval_relative_half_width, version.interval_scale_floor
    )
    lowers = np.maximum(features.VIEWS_FLOOR, answers - half_widths).tolist()
    uppers = (answers + half_widths).tolist()
    return list(map(round, lowers, repeat(2))), list(map(round, uppers, repeat(2)))


class OutsideRange(NamedTuple):
    """One input outside the training data's range, and that range."""

    feature: features.Feature
    value: int
    lowest: float
    highest: float


def outside_range(version: ModelVersion, row: Sequence[int]) -> list[OutsideRange]:
    """Which of an input row's values (INPUT_NAMES' order) lie outside the version's training
    range, in that order; none for a version trained before ranges were recorded."""
    ranges = version.training_ranges
    if ranges is None:
        return []
    outside = []
    for feature, value in zip(features.INPUT_FEATURES, row, strict=True):
        lowest, highest = ranges[feature.name]["min"], ranges[feature.name]["max"]
        if value < lowest or value > highest:
            outside.append(OutsideRange(feature, value, lowest, highest))
    return outside


def extrapolation_sentence(version: ModelVersion, row: Sequence[int]) -> str:
    """Every door's words for an answer outside the training range, in the active language:
    "80 likes is below the range the model was trained on (334 to 5,642), so this prediction
    is an extrapolation and may be off." "" when the row is inside."""
    clauses = []
    for item in outside_range(version, row):
        values = {
            "feature": item.feature.title,
            "value": display.count(item.value),
            "lowest": display.count(item.lowest),
            "highest": display.count(item.highest),
        }
        if item.value < item.lowest:
            clause = gettext(
                "%(value)s %(feature)s is below the range the model was trained on "
                "(%(lowest)s to %(highest)s)"
            )
        else:
            clause = gettext(
                "%(value)s %(feature)s is above the range the model was trained on "
                "(%(lowest)s to %(highest)s)"
            )
        clauses.append(clause % values)
    if not clauses:
        return ""
    # Translators: joins "80 likes is below the range…" and "12 shares is below the range…".
    outside = gettext(" and ").join(clauses)
    return gettext("%(outside)s, so this prediction is an extrapolation and may be off.") % {
        "outside": outside
    }


# An answered row's own columns, in the order predict gives them to the writer; the rest are
# the request's (_shared) or the version's.
ANSWERED_COLUMNS = (
    "raw_input",
    *features.INPUT_NAMES,
    "views",
    "views_lower",
    "views_upper",
    "extrapolated",
    "batch_index",
)
REFUSED_COLUMNS = ("raw_input", "errors", "batch_index")


def predict(
    *,
    inputs: Sequence[Mapping[str, int]],
    raw_inputs: Sequence,
    info: RequestInfo,
    batch: bool = False,
) -> list[Answer]:
    """Predict views for validated inputs in one model call and audit them in one write.

    Each answer carries the active version's interval. Returns the answers, one per input, in
    order. Raises ModelUnavailable (after auditing the refusal) when no model can answer. The
    rows are all it writes: what a version served is summed from them (services/served.py),
    previews left out.
    """
    rows = list(map(_input_row, inputs))
    shared = _shared(info, batch)
    try:
        # No transaction of its own: the version comes from memory (read within the bound), and
        # the writer's insert is all or nothing; on SQLite it takes the write lock only for that.
        version = registry.serving_version()
        if version is None:
            raise no_active_model()
        predicted = registry.load_predictor(version).predict(rows)
        if not all(map(math.isfinite, predicted)):
            # Bounded inputs cannot do this to a sane model; refuse rather than serve NaN.
            raise ModelUnavailable(f"Model {version.label} produced a non-finite prediction.")
        # Stamped after the lookup, so no row is older than its version's activation.
        shared["created_at"] = timezone.now()
        # Rounded by round(), as one answer always was, after the interval is taken around the
        # unrounded answer (as it always was). The row keeps the model's figure, the door gets
        # the answer served: served_views(row's views) is that answer to the last digit.
        computed = list(map(round, predicted, repeat(2)))
        served = list(map(features.served_views, predicted))
        views = list(map(round, served, repeat(2)))
        lowers, uppers = served_intervals(served, version)
        extrapolated = version.extrapolating(rows)
        indexes = range(len(rows)) if batch else [None] * len(rows)
        ids = audit_writes.write_rows(
            PredictionRequest,
            ANSWERED_COLUMNS,
            (
                (raw, *row, answer, lower, upper, outside, index)
                for raw, row, answer, lower, upper, outside, index in zip(
                    raw_inputs, rows, computed, lowers, uppers, extrapolated, indexes, strict=True
                )
            ),
            shared={**shared, "accepted": True, "model_version_id": version.pk},
        )
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
    metrics.predictions_answered(door=info.channel, version=version.label, count=len(ids))
    logger.debug(
        "prediction channel=%s version=%s count=%d first_id=%s",
        info.channel,
        version.label,
        len(ids),
        ids[0],
    )
    created_at = shared["created_at"]
    return [
        Answer(pk, *row, answer, lower, upper, version, created_at, model_figure, outside)
        for pk, row, answer, lower, upper, model_figure, outside in zip(
            ids, rows, views, lowers, uppers, computed, extrapolated, strict=True
        )
    ]


# An input's values in features.INPUT_NAMES' order, as a tuple.
_input_row = (
    itemgetter(*features.INPUT_NAMES)
    if len(features.INPUT_NAMES) > 1
    else lambda item: (item[features.INPUT_NAMES[0]],)
)


def record_refusal(
    *,
    raw_inputs: Sequence,
    errors: Sequence,
    info: RequestInfo,
    batch: bool = False,
    reason: str = "invalid_input",
) -> list[int]:
    """Audit a refused request, whatever refused it: one row per input item, with its errors.
    Returns the rows' ids, in order.

    `reason` is a short code for /metrics (invalid_input, model_unavailable, csrf,
    body_too_large, or the code of the API's refusal), never text from the request.
    """
    indexes = range(len(raw_inputs)) if batch else [None] * len(raw_inputs)
    try:
        ids = audit_writes.write_rows(
            PredictionRequest,
            REFUSED_COLUMNS,
            # Errors can quote the input (an unknown field's name), so they are made safe too.
            (
                (_json_safe(raw), _json_safe(stored_errors(item_errors)), index)
                for raw, item_errors, index in zip(raw_inputs, errors, indexes, strict=True)
            ),
            shared={**_shared(info, batch), "accepted": False},
        )
    except DatabaseError:
        metrics.audit_write_failed(door=info.channel)
        raise
    metrics.requests_refused(door=info.channel, reason=reason, count=len(ids))
    logger.info(
        "prediction refused channel=%s count=%d first_id=%s",
        info.channel,
        len(ids),
        ids[0] if ids else None,
    )
    return ids


def _shared(info: RequestInfo, batch: bool) -> dict:
    """The columns every row of one request shares: who asked, how, and when."""
    return {
        "created_at": timezone.now(),
        "channel": info.channel,
        "latency_ms": (time.perf_counter() - info.started) * 1000 if info.started else 0.0,
        "client_ip": info.client_ip,
        "user_agent": info.user_agent,
        "user_id": info.user_id,
        "batch_id": uuid.uuid4() if batch else None,
    }


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
