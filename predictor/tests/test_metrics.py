"""/metrics: what each door's requests, refusals and failures add, and who may read it.

The test process counts in prometheus-client's default registry (no PROMETHEUS_MULTIPROC_DIR),
which lives as long as the process, so each test compares a scrape after with one before.
`make e2e` scrapes the deployment, workers and all, with a real Prometheus
(test_deploy_metrics.py).
"""

import hashlib

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from predictor import metrics
from predictor.models import ModelVersion, PredictionRequest
from predictor.services import registry

from .conftest import replace_stored_file

METRICS = reverse("predictor:metrics")
PAGE = reverse("predictor:predict")
PREDICTIONS = reverse("predictor:prediction-create")
TOKEN = "metrics-token-for-tests-0123456789abcdef"


@pytest.fixture
def scraper(settings):
    """Reads /metrics with the token; returns {(sample name, sorted labels): value}."""
    settings.VIEWSITE_METRICS_TOKEN = TOKEN
    client = Client(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    def scrape() -> dict:
        response = client.get(METRICS)
        assert response.status_code == 200
        assert response["Content-Type"] == metrics.CONTENT_TYPE
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
        }

    return scrape


def added(before: dict, after: dict) -> dict:
    """What changed in viewsite's metrics between two scrapes, apart from the scrapes' own
    requests (door "other"); the process and garbage collector metrics change by themselves."""
    return {
        key: after[key] - before.get(key, 0)
        for key in after
        if key[0].startswith("viewsite_")
        and not key[0].endswith("_created")  # when a series began: not a count
        and not key[0].startswith("viewsite_input_")  # drift gauges, as of the latest seal
        and after[key] != before.get(key, 0)
        and ("door", "other") not in key[1]
    }


def sample(name: str, **labels) -> tuple:
    return (name, tuple(sorted(labels.items())))


def test_predictions_through_the_form_and_the_api_count_by_door_version_and_status(
    scraper, active_model
):
    before = scraper()
    assert Client().post(PAGE, {"likes": "500", "shares": "300"}).status_code == 200
    api = APIClient()
    assert api.post(PREDICTIONS, {"likes": 1, "shares": 2}, format="json").status_code == 201
    batch = [{"likes": n, "shares": n} for n in range(3)]
    assert api.post(PREDICTIONS, batch, format="json").status_code == 201
    changed = added(before, scraper())

    version = active_model.label
    histogram = "viewsite_request_duration_seconds"
    assert {
        key: value
        for key, value in changed.items()
        if key[0] not in (f"{histogram}_bucket", f"{histogram}_sum")
    } == {
        # One per audit row: the batch of three counts three.
        sample("viewsite_predictions_total", door="form", version=version): 1,
        sample("viewsite_predictions_total", door="api", version=version): 4,
        sample("viewsite_requests_total", door="form", status="200"): 1,
        sample("viewsite_requests_total", door="api", status="201"): 2,
        sample(f"{histogram}_count", door="form"): 1,
        sample(f"{histogram}_count", door="api"): 2,
    }
    # Each request took some time, and less than the largest finite bucket.
    assert changed[sample(f"{histogram}_bucket", door="api", le="30.0")] == 2
    assert changed[sample(f"{histogram}_sum", door="api")] > 0
    assert PredictionRequest.objects.filter(accepted=True).count() == 5


def test_previews_count_under_a_door_of_their_own_not_the_apis(scraper, active_model):
    before = scraper()
    api = APIClient()
    preview = reverse("predictor:prediction-preview")
    assert api.post(preview, {"likes": 1, "shares": 2}, format="json").status_code == 200
    assert api.post(preview, {"likes": -1, "shares": 2}, format="json").status_code == 400
    changed = added(before, scraper())

    version = active_model.label
    assert changed[sample("viewsite_predictions_total", door="preview", version=version)] == 1
    assert changed[sample("viewsite_refusals_total", door="preview", reason="invalid_input")] == 1
    assert changed[sample("viewsite_requests_total", door="preview", status="200")] == 1
    assert not [key for key in changed if ("door", "api") in key[1]]


def test_refusals_count_by_door_and_reason_one_per_audit_row(scraper, active_model):
    before = scraper()
    assert Client().post(PAGE, {"likes": "-1", "shares": "3"}).status_code == 400
    api = APIClient()
    assert api.post(PREDICTIONS, {"likes": "many"}, format="json").status_code == 400
    bad_batch = [{"likes": 1, "shares": 1}, {"likes": -5, "shares": 1}]
    assert api.post(PREDICTIONS, bad_batch, format="json").status_code == 400
    malformed = api.post(PREDICTIONS, "{not json", content_type="application/json")
    assert malformed.status_code == 400
    typed = api.post(PREDICTIONS, "likes=1", content_type="text/plain")
    assert typed.status_code == 415
    csrf_client = Client(enforce_csrf_checks=True)
    assert csrf_client.post(PAGE, {"likes": "1", "shares": "1"}).status_code == 403
    changed = added(before, scraper())

    refusals = {key: value for key, value in changed.items() if key[0] == "viewsite_refusals_total"}
    assert refusals == {
        sample("viewsite_refusals_total", door="form", reason="invalid_input"): 1,
        sample("viewsite_refusals_total", door="form", reason="csrf"): 1,
        # The batch of two is two audit rows: the bad item and the one not predicted with it.
        sample("viewsite_refusals_total", door="api", reason="invalid_input"): 3,
        sample("viewsite_refusals_total", door="api", reason="parse_error"): 1,
        sample("viewsite_refusals_total", door="api", reason="unsupported_media_type"): 1,
    }
    assert sum(refusals.values()) == PredictionRequest.objects.filter(accepted=False).count()
    assert changed[sample("viewsite_requests_total", door="api", status="415")] == 1
    assert changed[sample("viewsite_requests_total", door="form", status="403")] == 1
    assert not any(key[0] == "viewsite_predictions_total" for key in changed)


def test_no_active_model_is_a_refusal_for_that_reason(scraper, db):
    before = scraper()
    response = APIClient().post(PREDICTIONS, {"likes": 1, "shares": 1}, format="json")
    assert response.status_code == 503
    changed = added(before, scraper())
    assert changed[sample("viewsite_refusals_total", door="api", reason="model_unavailable")] == 1
    assert changed[sample("viewsite_requests_total", door="api", status="503")] == 1


def rename_table(old: str, new: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {old} RENAME TO {new}")


def test_a_request_whose_audit_row_cannot_be_written_counts_as_an_audit_write_failure(
    scraper, transactional_db, active_model
):
    before = scraper()
    # The audit table is gone for a moment, as if the database refused the write. Outside a
    # test transaction, since a refusal's failed insert would spoil it.
    rename_table("predictor_predictionrequest", "predictor_elsewhere")
    try:
        form = Client().post(PAGE, {"likes": "500", "shares": "300"})
        api = APIClient().post(PREDICTIONS, {"likes": "oops"}, format="json")
    finally:
        rename_table("predictor_elsewhere", "predictor_predictionrequest")
    changed = added(before, scraper())

    assert (form.status_code, api.status_code) == (503, 503)
    assert changed[sample("viewsite_audit_write_failures_total", door="form")] == 1
    assert changed[sample("viewsite_audit_write_failures_total", door="api")] == 1
    assert not any(
        key[0] in ("viewsite_predictions_total", "viewsite_refusals_total") for key in changed
    )


def test_rate_limited_requests_count_by_scope(scraper, settings, active_model):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "2/hour", "user": "5/hour"},
    }
    before = scraper()
    api = APIClient()
    statuses = [
        api.post(PREDICTIONS, {"likes": 1, "shares": 1}, format="json").status_code
        for _ in range(5)
    ]
    changed = added(before, scraper())

    assert statuses == [201, 201, 429, 429, 429]
    assert changed[sample("viewsite_rate_limited_total", scope="anon")] == 3
    assert changed[sample("viewsite_requests_total", door="api", status="429")] == 3


def test_the_active_version_is_the_databases_answer_at_scrape_time(scraper, active_model):
    assert scraper()[sample("viewsite_active_model_info", version=active_model.label)] == 1
    active_model.is_active = False
    active_model.save(update_fields=["is_active"])
    assert not any(key[0] == "viewsite_active_model_info" for key in scraper())


def test_model_load_and_integrity_failures_count_by_reason(scraper, db):
    before = scraper()
    metrics.model_load_failed("incompatible")
    metrics.artifact_integrity_failed("checksum")
    metrics.artifact_integrity_failed("signature")
    changed = added(before, scraper())
    assert changed == {
        sample("viewsite_model_load_failures_total", reason="incompatible"): 1,
        # An artifact that fails its check is a model that failed to load, too.
        sample("viewsite_model_load_failures_total", reason="checksum"): 1,
        sample("viewsite_model_load_failures_total", reason="signature"): 1,
        sample("viewsite_artifact_integrity_failures_total", check="checksum"): 1,
        sample("viewsite_artifact_integrity_failures_total", check="signature"): 1,
    }


def test_label_values_stay_in_their_bounded_sets(scraper, db):
    before = scraper()
    metrics.requests_refused(door="telnet", reason="Ignore <this> text", count=2)
    metrics.predictions_answered(door="api", version="latest", count=1)
    metrics.request_answered(door="form", status=999, seconds=0.01)
    after = scraper()
    unknown = sample("viewsite_refusals_total", door="other", reason="other")
    assert after[unknown] - before.get(unknown, 0) == 2
    changed = added(before, after)
    assert changed[sample("viewsite_predictions_total", door="api", version="other")] == 1
    assert changed[sample("viewsite_requests_total", door="form", status="other")] == 1


@pytest.mark.parametrize(
    ("path", "door"),
    [
        ("/", "form"),
        ("/api/", "api"),
        ("/api/predictions/", "api"),
        ("/api/predictions/preview/", "preview"),
        ("/api/nothing-here/", "api"),
        ("/admin/predictor/predictionrequest/", "admin"),
        ("/healthz", "other"),
        ("/metrics", "other"),
        ("/static/css/site.css", "other"),
        ("/apix", "other"),
    ],
)
def test_each_path_belongs_to_one_door(path, door):
    assert metrics.door_of(path) == door


# --- Who may read /metrics ---------------------------------------------------------------------


def test_by_default_nobody_may_read_the_metrics(client, db):
    for remote in ("127.0.0.1", "10.0.0.1"):
        response = client.get(METRICS, REMOTE_ADDR=remote)
        assert response.status_code == 403
        assert b"viewsite_" not in response.content
    assert client.get(METRICS, HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_the_token_opens_the_metrics_and_nothing_else_does(client, settings, db):
    settings.VIEWSITE_METRICS_TOKEN = TOKEN
    assert client.get(METRICS, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client.get(METRICS, HTTP_AUTHORIZATION=f"bearer {TOKEN}").status_code == 200
    for refused in (
        "",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer 令牌",
    ):
        assert client.get(METRICS, HTTP_AUTHORIZATION=refused).status_code == 403, refused


def test_allowed_addresses_are_read_through_the_trusted_proxies(client, settings, db):
    settings.VIEWSITE_METRICS_ALLOWED_ADDRESSES = ["10.20.0.0/16", "192.0.2.7/32"]
    assert client.get(METRICS, REMOTE_ADDR="10.20.3.4").status_code == 200
    assert client.get(METRICS, REMOTE_ADDR="192.0.2.7").status_code == 200
    assert client.get(METRICS, REMOTE_ADDR="192.0.2.8").status_code == 403

    # Behind nginx (one trusted proxy) the client is the hop nginx appended; an address the
    # client wrote itself before it opens nothing.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    through_nginx = {"REMOTE_ADDR": "127.0.0.1"}
    allowed = client.get(METRICS, HTTP_X_FORWARDED_FOR="10.20.3.4", **through_nginx)
    forged = client.get(METRICS, HTTP_X_FORWARDED_FOR="10.20.3.4, 198.51.100.9", **through_nginx)
    assert (allowed.status_code, forged.status_code) == (200, 403)


def test_the_metrics_are_never_cached_and_only_read(client, settings, db):
    settings.VIEWSITE_METRICS_TOKEN = TOKEN
    response = client.get(METRICS, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert "no-cache" in response["Cache-Control"]
    assert client.post(METRICS, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def test_a_scraper_on_plain_http_inside_is_not_redirected(client, settings, db):
    # With several app hosts Prometheus scrapes each gunicorn directly (deploy/README.md).
    settings.SECURE_SSL_REDIRECT = True
    settings.VIEWSITE_METRICS_TOKEN = TOKEN
    assert client.get(PAGE).status_code == 301
    assert client.get(METRICS, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_a_tampered_model_file_counts_as_an_integrity_failure_and_a_load_failure(
    scraper, active_model
):
    before = scraper()
    # The file changed but not its checksum: the signature holds, the checksum does not.
    replace_stored_file(active_model.serving_name, b"{}")
    api = APIClient()
    assert api.post(PREDICTIONS, {"likes": 1, "shares": 1}, format="json").status_code == 503
    # The checksum changed with it, as whoever can write the database could: the signature fails.
    ModelVersion.objects.filter(pk=active_model.pk).update(
        serving_sha256=hashlib.sha256(b"{}").hexdigest()
    )
    registry.clear_loaded_models()
    assert api.post(PREDICTIONS, {"likes": 1, "shares": 1}, format="json").status_code == 503
    changed = added(before, scraper())

    assert changed[sample("viewsite_artifact_integrity_failures_total", check="checksum")] == 1
    assert changed[sample("viewsite_artifact_integrity_failures_total", check="signature")] == 1
    assert changed[sample("viewsite_model_load_failures_total", reason="checksum")] == 1
    assert changed[sample("viewsite_model_load_failures_total", reason="signature")] == 1
    assert changed[sample("viewsite_refusals_total", door="api", reason="model_unavailable")] == 2
