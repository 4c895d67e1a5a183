"""Prometheus metrics: every metric viewsite exports is defined here, with the one function that
counts it, and /metrics is built here.

gunicorn runs several worker processes and a scrape reaches one of them, so each worker counts
in files of its own (prometheus-client's multiprocess mode: deploy/gunicorn.conf.py points
PROMETHEUS_MULTIPROC_DIR at a folder it empties when the master starts) and /metrics adds them
all up. Without that variable (runserver, tests, management commands) counts stay in the
process's default registry.

Every label has a bounded set of values, since each value is a time series kept forever: the
door (form, api, preview, cli, admin, other), an HTTP status, a version label (v3), a reason code. A
value outside its set is counted as "other".

A metric must never cost a request its answer: each counting function logs its own failure (a
full disk under the multiprocess folder, say) and returns.
"""

import functools
import hmac
import ipaddress
import logging
import re

from django.conf import settings
from django.db import DatabaseError
from django.urls import reverse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily

from .clients import client_ip
from .models import ModelVersion

logger = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
DOORS = frozenset({"form", "api", "preview", "cli", "admin", "other"})
OTHER = "other"
_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")
_VERSION = re.compile(r"v[0-9]{1,9}")

REQUESTS = Counter(
    "viewsite_requests",
    "HTTP requests answered, by door and status code.",
    ["door", "status"],
)
REQUEST_DURATION = Histogram(
    "viewsite_request_duration_seconds",
    "Time from a request reaching Django to its response leaving it, by door.",
    ["door"],
    # A prediction takes milliseconds; a batch of 10,000 or a cold model load takes seconds.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
PREDICTIONS = Counter(
    "viewsite_predictions",
    "Predictions answered (one per audit row: a batch of N counts N), by door and model version.",
    ["door", "version"],
)
REFUSALS = Counter(
    "viewsite_refusals",
    "Prediction requests refused (one per audit row), by door and reason.",
    ["door", "reason"],
)
AUDIT_WRITE_FAILURES = Counter(
    "viewsite_audit_write_failures",
    "Requests whose audit rows could not be written, so they were not answered, by door.",
    ["door"],
)
MODEL_LOAD_FAILURES = Counter(
    "viewsite_model_load_failures",
    "Model versions that could not be loaded to serve, by reason (checksum and signature "
    "failures included).",
    ["reason"],
)
ARTIFACT_INTEGRITY_FAILURES = Counter(
    "viewsite_artifact_integrity_failures",
    "Artifacts refused because they do not match what their version recorded, by check "
    "(checksum, signature).",
    ["check"],
)
RATE_LIMITED = Counter(
    "viewsite_rate_limited",
    "API requests refused by Django's rate limits (nginx's own 429s never reach Django), by "
    "scope (anon, user, preview).",
    ["scope"],
)


def _never_fails(count):
    """Run a counting function; if prometheus-client fails, log it and let the request go on."""

    @functools.wraps(count)
    def counting(*args, **kwargs) -> None:
        try:
            count(*args, **kwargs)
        except Exception:  # whatever it is, the request's answer matters more than its tally
            logger.exception("metric not counted function=%s", count.__name__)

    return counting


def _door(door) -> str:
    door = str(door)
    return door if door in DOORS else OTHER


def _code(value) -> str:
    value = str(value)
    return value if _CODE.fullmatch(value) else OTHER


@_never_fails
def request_answered(*, door: str, status: int, seconds: float) -> None:
    door = _door(door)
    REQUESTS.labels(door=door, status=str(status) if 100 <= status <= 599 else OTHER).inc()
    REQUEST_DURATION.labels(door=door).observe(seconds)


@_never_fails
def predictions_answered(*, door, version: str, count: int) -> None:
    version = version if _VERSION.fullmatch(version) else OTHER
    PREDICTIONS.labels(door=_door(door), version=version).inc(count)


@_never_fails
def requests_refused(*, door, reason: str, count: int) -> None:
    REFUSALS.labels(door=_door(door), reason=_code(reason)).inc(count)


@_never_fails
def audit_write_failed(*, door) -> None:
    AUDIT_WRITE_FAILURES.labels(door=_door(door)).inc()


@_never_fails
def model_load_failed(reason: str) -> None:
    """A version could not be loaded: e.g. "unreadable", "incompatible", "unparseable"."""
    MODEL_LOAD_FAILURES.labels(reason=_code(reason)).inc()


@_never_fails
def artifact_integrity_failed(check: str) -> None:
    """An artifact failed its "checksum" or "signature" check; that is a load failure too."""
    check = _code(check)
    ARTIFACT_INTEGRITY_FAILURES.labels(check=check).inc()
    MODEL_LOAD_FAILURES.labels(reason=check).inc()


@_never_fails
def rate_limited(*, scope: str) -> None:
    RATE_LIMITED.labels(scope=_code(scope)).inc()


def door_of(path: str) -> str:
    """The door an HTTP request came through, from its path."""
    form, preview, api, admin = _door_paths()
    if path == form:
        return "form"
    if path == preview:  # under the API's root, but the form's previews are not API traffic
        return "preview"
    if path.startswith(api):
        return "api"
    if path.startswith(admin):
        return "admin"
    return OTHER


@functools.cache
def _door_paths() -> tuple[str, str, str, str]:
    return (
        reverse("predictor:predict"),
        reverse("predictor:prediction-preview"),
        reverse("predictor:api-root"),
        reverse("admin:index"),
    )


# --- /metrics ---------------------------------------------------------------------------------


def scrape_allowed(request) -> bool:
    """Whether this client may read /metrics: it presents the bearer token, or its address (read
    as the audit reads it, through the trusted proxies) is in an allowed network. Neither set
    means nobody may."""
    token = settings.VIEWSITE_METRICS_TOKEN
    if token:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode(), token.encode()
        ):
            return True
    networks = _networks(tuple(settings.VIEWSITE_METRICS_ALLOWED_ADDRESSES))
    if not networks:
        return False
    address = client_ip(request)
    return address is not None and any(
        ipaddress.ip_address(address) in network for network in networks
    )


@functools.cache
def _networks(entries: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def exposition() -> bytes:
    """Every metric in Prometheus's text format: all workers' counts, and the active version."""
    registry = CollectorRegistry()
    if settings.VIEWSITE_METRICS_MULTIPROCESS_DIR:
        multiprocess.MultiProcessCollector(
            registry, path=settings.VIEWSITE_METRICS_MULTIPROCESS_DIR
        )
    else:
        registry.register(REGISTRY)
    registry.register(ActiveVersionCollector())
    registry.register(InputDriftCollector())
    return generate_latest(registry)


class ActiveVersionCollector:
    """viewsite_active_model_info{version="v3"} 1, asked of the database at scrape time.

    The database is what every request asks, so this is the truth a scrape can tell, even in
    the middle of an activation (one indexed lookup, and exactly one active version at any
    instant); a value kept by workers would say what each last served. If the database cannot
    answer, there is no sample and the failure is logged; the other metrics are still served.
    """

    def collect(self):
        family = InfoMetricFamily(
            "viewsite_active_model",
            "The model version that serves predictions, as the database says at scrape time.",
            labels=["version"],
        )
        try:
            numbers = list(
                ModelVersion.objects.filter(is_active=True)
                .order_by()
                .values_list("number", flat=True)[:1]
            )
        except DatabaseError as error:
            logger.error("metrics: active version unknown, database unavailable error=%s", error)
            numbers = []
        for number in numbers:
            family.add_metric([ModelVersion(number=number).label], {})
        yield family


class InputDriftCollector:
    """Per version that has answered and input, over every answer it served as of the latest
    seal of the audit trail (every ten minutes in deployment):

    viewsite_input_drift{version="v3",feature="likes"}: the effect size, the KS statistic under
    1,000 answers, else the Wasserstein distance in training standard deviations;
    viewsite_input_drifted{...}: 1 when that input has drifted, else 0;
    viewsite_input_outside_share{...}: the share of answers outside the training range.

    The figures are computed when the seal moves the served checkpoint (services/served.py,
    in seal_audit's process) and stored with its histograms; a scrape reads them in one query
    (services/drift.py's served_drift) and compares nothing, so no worker imports scipy for it
    (each worker a scrape reaches would grow by its 60 MB or so). The model card and `manage.py
    drift` still read the checkpoint plus the rows since. A version trained before its data's
    distribution was recorded has no samples. If the database cannot answer, there are no
    samples and the failure is logged.
    """

    def collect(self):
        labels = ["version", "feature"]
        effect = GaugeMetricFamily(
            "viewsite_input_drift",
            "How far a version's served inputs are from its training data (KS statistic under "
            "1,000 answers, else Wasserstein distance in training standard deviations), as of "
            "the latest seal of the audit trail.",
            labels=labels,
        )
        drifted = GaugeMetricFamily(
            "viewsite_input_drifted",
            "1 when a version's served values of an input have drifted from its training data, "
            "as of the latest seal of the audit trail.",
            labels=labels,
        )
        outside = GaugeMetricFamily(
            "viewsite_input_outside_share",
            "Share of a version's answers with this input outside its training range, as of the "
            "latest seal of the audit trail.",
            labels=labels,
        )
        from .services import drift  # here: the services import this module to count

        try:
            gauges = drift.served_drift()
        except DatabaseError as error:
            logger.error("metrics: input drift unknown, database unavailable error=%s", error)
            gauges = []
        for gauge in gauges:
            values = [gauge.version, gauge.feature]
            effect.add_metric(values, gauge.effect)
            drifted.add_metric(values, 1.0 if gauge.drifted else 0.0)
            outside.add_metric(values, gauge.share_outside)
        yield effect
        yield drifted
        yield outside
