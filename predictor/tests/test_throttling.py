"""Rate limits on the API, on the real Redis at 127.0.0.1:6379, as in production."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from predictor import services
from predictor.api import throttling
from predictor.models import PredictionRequest, ThrottledRequestCount

PREDICTIONS = reverse("predictor:prediction-list")
BODY = {"likes": 1, "shares": 1}


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "viewsite.cache.SharedClientRedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
            "KEY_PREFIX": "viewsite-tests",
        }
    }
    from django.core.cache import cache

    cache.clear()
    yield cache
    cache.clear()


def limit(settings, *, anon="3/minute", user="5/minute", proxies=0):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": anon, "user": user},
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
    limit(settings, anon="1/minute", user="2/minute")
    api = APIClient()
    assert api.post(PREDICTIONS, BODY, format="json").status_code == 201
    assert api.post(PREDICTIONS, BODY, format="json").status_code == 429
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=plain_user).key}")
    statuses = [api.post(PREDICTIONS, BODY, format="json").status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    assert ThrottledRequestCount.objects.get(scope="user").client == f"user:{plain_user.pk}"


def test_a_flood_of_refusals_is_not_a_flood_of_writes(redis_cache, settings, active_model):
    limit(settings, anon="1/minute")
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

    limit(settings, anon="1/minute")
    api = APIClient()
    for _ in range(21):
        api.post(PREDICTIONS, BODY, format="json")
    time.sleep(1.1)
    api.post(PREDICTIONS, BODY, format="json")
    assert ThrottledRequestCount.objects.get().count == 21


def test_when_the_cache_is_down_predictions_are_still_served(settings, active_model):
    settings.CACHES = {
        "default": {
            "BACKEND": "viewsite.cache.SharedClientRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    limit(settings, anon="1/minute")
    api = APIClient()
    statuses = [api.post(PREDICTIONS, BODY, format="json").status_code for _ in range(3)]
    assert statuses == [201, 201, 201]


def test_the_admin_shows_the_counts(redis_cache, settings, active_model, admin_client):
    limit(settings, anon="1/minute")
    api = APIClient()
    for _ in range(8):
        api.post(PREDICTIONS, BODY, format="json")
    page = admin_client.get(reverse("admin:predictor_throttledrequestcount_changelist"))
    assert page.status_code == 200
    assert '<td class="field-refused">7</td>' in page.content.decode()


# A worker takes a client's hits from Redis a block (a thousandth of the limit) at a time.
ANON_KEY = "throttle_anon_127.0.0.1"


def test_a_worker_asks_redis_once_per_block_of_hits(redis_cache, settings, active_model):
    limit(settings, anon="5000/minute")  # blocks of 5
    api = APIClient()
    statuses = [api.post(PREDICTIONS, BODY, format="json").status_code for _ in range(12)]
    assert statuses == [201] * 12
    assert redis_cache.get(ANON_KEY) == 15


def test_blocks_never_admit_more_than_the_limit(redis_cache, settings, active_model):
    limit(settings, anon="2000/minute")  # blocks of 2
    # Other workers have taken 1,997 of the window's hits.
    throttling.claim_hits(ANON_KEY, 60, 1997)
    api = APIClient()
    statuses = [api.post(PREDICTIONS, BODY, format="json").status_code for _ in range(5)]
    # A block of 2 (1,999 taken), then the one hit left of the next block: 2,000 admitted.
    assert statuses == [201, 201, 201, 429, 429]


def test_a_block_left_by_another_worker_is_lost_not_reused(redis_cache, settings, active_model):
    limit(settings, anon="2000/minute")
    throttling.claim_hits(ANON_KEY, 60, 1996)
    api = APIClient()
    statuses = []
    for _ in range(4):
        statuses.append(api.post(PREDICTIONS, BODY, format="json").status_code)
        throttling.forget_leases()  # the next request reaches a worker holding no block
    # Each worker used one hit of its block of 2: the client is refused early, never late.
    assert statuses == [201, 201, 429, 429]


def test_once_refused_a_client_costs_redis_nothing_more_in_the_window(
    redis_cache, settings, active_model
):
    limit(settings, anon="3/minute")
    api = APIClient()
    statuses = [api.post(PREDICTIONS, BODY, format="json").status_code for _ in range(10)]
    assert statuses == [201] * 3 + [429] * 7
    # The third hit reached the limit: the refusals never asked Redis for a hit (they are
    # counted apart, once each).
    assert redis_cache.get(ANON_KEY) == 3
    assert services.live_count(ThrottledRequestCount.objects.get()) == 7


def test_a_block_closes_with_its_window(redis_cache, settings, active_model):
    import time

    limit(settings, anon="2000/second")  # blocks of 2, windows of a second
    api = APIClient()
    assert api.post(PREDICTIONS, BODY, format="json").status_code == 201
    time.sleep(1.1)
    # The window closed in Redis; the block's second hit belonged to it and is not used.
    assert redis_cache.get(ANON_KEY) is None
    assert api.post(PREDICTIONS, BODY, format="json").status_code == 201
    assert redis_cache.get(ANON_KEY) == 2
