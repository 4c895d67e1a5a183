"""Rate limits on the API, on the real Redis at 127.0.0.1:6379, as in production."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from predictor import services
from predictor.models import PredictionRequest, ThrottledRequestCount

PREDICTIONS = reverse("predictor:prediction-create")
PREVIEW = reverse("predictor:prediction-preview")
BODY = {"likes": 1, "shares": 1}


@pytest.fixture
def redis_cache(settings, worker_number):
    # A Redis database per test worker: clearing the cache empties the whole database.
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:6379/{15 - worker_number}",
            "KEY_PREFIX": "viewsite-tests",
        }
    }
    from django.core.cache import cache

    cache.clear()
    yield cache
    cache.clear()


def limit(settings, *, anon="3/hour", user="5/hour", preview="4/hour", proxies=0):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": anon, "user": user, "preview": preview},
        "NUM_PROXIES": proxies,
    }


def test_an_anonymous_client_over_its_rate_gets_a_429_envelope_and_a_count(
    redis_cache, settings, active_model
):
    limit(settings)
    api = APIClient()
    statuses = [api.post(PREDICTIONS, BODY, format="json").status_code for _ in range(5)]

    assert statuses == [201, 201, 201, 429, 429]
    refused = api.post(PREDICTIONS, BODY, format="json")
    assert refused.json()["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
    # Refusals are counted, not written one row each.
    assert PredictionRequest.objects.count() == 3
    [row] = ThrottledRequestCount.objects.all()
    assert (row.scope, row.client) == ("anon", "127.0.0.1")
    assert services.live_count(row) == 3


def test_a_forged_x_forwarded_for_does_not_dodge_the_limit(redis_cache, settings, active_model):
    # Behind nginx (one trusted proxy) the client is the last hop nginx appended; anything the
    # client wrote before it is ignored.
    limit(settings, proxies=1)
    api = APIClient()
    statuses = [
        api.post(
            PREDICTIONS,
            BODY,
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, 198.51.100.7",
        ).status_code
        for n in range(5)
    ]
    assert statuses == [201, 201, 201, 429, 429]
    assert ThrottledRequestCount.objects.get().client == "198.51.100.7"
    assert set(PredictionRequest.objects.values_list("client_ip", flat=True)) == {"198.51.100.7"}


def test_without_trusted_proxies_the_header_is_ignored_altogether(
    redis_cache, settings, active_model
):
    limit(settings, proxies=0)
    api = APIClient()
    statuses = [
        api.post(PREDICTIONS, BODY, format="json", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code
        for n in range(4)
    ]
    assert statuses == [201, 201, 201, 429]


def test_users_have_their_own_allowance(redis_cache, settings, active_model, plain_user):
    limit(settings, anon="1/hour", user="2/hour")
    api = APIClient()
    assert api.post(PREDICTIONS, BODY, format="json").status_code == 201
    assert api.post(PREDICTIONS, BODY, format="json").status_code == 429
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=plain_user).key}")
    statuses = [api.post(PREDICTIONS, BODY, format="json").status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    assert ThrottledRequestCount.objects.get(scope="user").client == f"user:{plain_user.pk}"


def test_a_flood_of_refusals_is_not_a_flood_of_writes(redis_cache, settings, active_model):
    limit(settings, anon="1/hour")
    api = APIClient()
    api.post(PREDICTIONS, BODY, format="json")
    with CaptureQueriesContext(connection) as queries:
        for _ in range(100):
            assert api.post(PREDICTIONS, BODY, format="json").status_code == 429
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith(("INSERT", "UPDATE")) and "throttledrequestcount" in q["sql"]
    ]
    # The first refusal creates the row; then at most one write a second.
    assert 1 <= len(writes) <= 1 + 5
    assert not [q for q in queries.captured_queries if "predictionrequest" in q["sql"]]
    row = ThrottledRequestCount.objects.get()
    assert services.live_count(row) == 100


def test_the_stored_count_catches_up_within_a_second(redis_cache, settings, active_model):
    import time

    limit(settings, anon="1/hour")
    api = APIClient()
    for _ in range(21):
        api.post(PREDICTIONS, BODY, format="json")
    time.sleep(1.1)
    api.post(PREDICTIONS, BODY, format="json")
    # The minute's row has caught up with the cache. A run that straddles a minute has two rows,
    # and the earlier minute's last second stays in the cache alone (the admin reads both).
    rows = list(ThrottledRequestCount.objects.order_by("minute"))
    assert len(rows) in (1, 2)
    assert rows[-1].count == services.live_count(rows[-1])
    assert sum(map(services.live_count, rows)) == 21


def test_when_the_cache_is_down_predictions_are_still_served(settings, active_model):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    limit(settings, anon="1/hour")
    api = APIClient()
    statuses = [api.post(PREDICTIONS, BODY, format="json").status_code for _ in range(3)]
    assert statuses == [201, 201, 201]


def test_the_admin_shows_the_counts(redis_cache, settings, active_model, admin_client):
    limit(settings, anon="1/hour")
    api = APIClient()
    for _ in range(8):
        api.post(PREDICTIONS, BODY, format="json")
    page = admin_client.get(reverse("admin:predictor_throttledrequestcount_changelist"))
    assert page.status_code == 200
    assert '<td class="field-refused">7</td>' in page.content.decode()


def test_a_window_closes_and_the_client_is_admitted_again(
    redis_cache, settings, active_model, monkeypatch
):
    import time
    from types import SimpleNamespace

    from predictor.api import throttling

    # The throttle's clock, set by the test: windows open and close without waiting for them.
    now = [float(int(time.time())) + 0.01]  # the start of a window, so three requests fit in it
    monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: now[0]))
    limit(settings, anon="2/second")
    api = APIClient()
    statuses = [api.post(PREDICTIONS, BODY, format="json").status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    now[0] += 0.9  # later in the same window: still refused
    assert api.post(PREDICTIONS, BODY, format="json").status_code == 429
    now[0] += 0.1  # the next window
    assert api.post(PREDICTIONS, BODY, format="json").status_code == 201


def test_one_counter_per_client_and_window_counts_every_request(
    redis_cache, settings, active_model
):
    import time

    limit(settings, anon="3/hour")
    api = APIClient()
    statuses = [api.post(PREDICTIONS, BODY, format="json").status_code for _ in range(5)]
    assert statuses == [201, 201, 201, 429, 429]
    window = int(time.time() // 3600)
    assert redis_cache.get(f"throttle_anon_127.0.0.1:{window}") == 5


def test_a_window_counter_expires_after_its_window(redis_cache, settings, active_model):
    import time

    from django_redis import get_redis_connection

    limit(settings, anon="3/hour")
    api = APIClient()
    for _ in range(2):
        api.post(PREDICTIONS, BODY, format="json")
    window = int(time.time() // 3600)
    key = redis_cache.make_key(f"throttle_anon_127.0.0.1:{window}")
    # Set by the window's first request and kept by the second: Redis forgets the counter a
    # second after its window, so counters never pile up.
    assert 0 < get_redis_connection().ttl(key) <= 3601


def test_previews_have_a_limit_of_their_own_apart_from_predictions(
    redis_cache, settings, active_model, plain_user
):
    limit(settings, anon="2/hour", preview="3/hour")
    api = APIClient()
    previews = [api.post(PREVIEW, BODY, format="json").status_code for _ in range(4)]
    # Typing used up the previews' allowance, not the predictions' (and the other way round).
    predictions = [api.post(PREDICTIONS, BODY, format="json").status_code for _ in range(3)]

    assert previews == [200, 200, 200, 429]
    assert predictions == [201, 201, 429]
    counted = dict(ThrottledRequestCount.objects.values_list("scope", "client"))
    assert counted == {"preview": "127.0.0.1", "anon": "127.0.0.1"}
    assert PredictionRequest.objects.filter(channel="preview").count() == 3
    # A user's previews are counted by their account, as their predictions are.
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=plain_user).key}")
    statuses = [api.post(PREVIEW, BODY, format="json").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    clients = ThrottledRequestCount.objects.filter(scope="preview").values_list("client", flat=True)
    assert set(clients) == {"127.0.0.1", f"user:{plain_user.pk}"}
