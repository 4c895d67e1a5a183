"""The admin's login lockout (django-axes, configured in settings; the page in predictor.logins)."""

import datetime

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.urls import reverse
from django.utils import timezone

from predictor import display

LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def staff_member(django_user_model):
    return django_user_model.objects.create_user(
        "auditor", password="the-right-password", is_staff=True
    )


def log_in(client, password, *, address="198.51.100.7", username="auditor", **headers):
    credentials = {"username": username, "password": password}
    return client.post(LOGIN, credentials, REMOTE_ADDR=address, **headers)


def test_the_fifth_failure_locks_that_user_at_that_address_and_says_until_when(
    client, staff_member, settings
):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong").status_code == 200  # the login form again, with its error

    locked = log_in(client, "wrong")

    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Logins as <strong>auditor</strong> from your address are locked after 5" in page
    until = timezone.localtime(locked.context["locked_until"])
    expected = timezone.now() + settings.AXES_COOLOFF_TIME
    assert abs((until - expected).total_seconds()) < 60
    # Written as every date on the site is (display.when), the zone named.
    assert display.when(until) in page
    # Even the right password is refused while the lockout lasts.
    assert log_in(client, "the-right-password").status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_holds_only_that_user_at_that_address(client, staff_member, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong")

    assert log_in(client, "wrong", username="someone-else").status_code == 200
    elsewhere = log_in(client, "the-right-password", address="198.51.100.8")
    assert elsewhere.status_code == 302
    assert elsewhere["Location"] == "/admin/"


def test_the_lockout_ends_after_the_cool_off(client, staff_member, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong")
    assert log_in(client, "the-right-password").status_code == 429

    # Let the cool-off pass: the attempts are from before it began.
    earlier = timezone.now() - settings.AXES_COOLOFF_TIME - datetime.timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=earlier)

    assert log_in(client, "the-right-password").status_code == 302


def test_the_address_is_read_through_the_trusted_proxy_so_a_forged_header_does_not_reset_it(
    client, staff_member, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for forged in range(settings.AXES_FAILURE_LIMIT):
        log_in(
            client,
            "wrong",
            address="127.0.0.1",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{forged}, 203.0.113.50",
        )

    refused = log_in(
        client,
        "the-right-password",
        address="127.0.0.1",
        HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.50",
    )

    assert refused.status_code == 429
    assert AccessAttempt.objects.get().ip_address == "203.0.113.50"


def test_staff_see_each_lockout_in_the_admin(client, admin_client, staff_member, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        log_in(client, "wrong")

    attempts = admin_client.get(reverse("admin:axes_accessattempt_changelist"))
    assert attempts.status_code == 200
    assert "auditor" in attempts.content.decode()
    assert "198.51.100.7" in attempts.content.decode()
    failures = AccessFailureLog.objects.filter(username="auditor")
    assert failures.count() == settings.AXES_FAILURE_LIMIT + 1
    assert failures.filter(locked_out=True).exists()
    log = admin_client.get(reverse("admin:axes_accessfailurelog_changelist"))
    assert log.status_code == 200
    assert "auditor" in log.content.decode()


def test_the_lockout_page_is_in_chinese_for_a_chinese_browser(client, staff_member, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        locked = log_in(client, "wrong", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert locked.status_code == 429
    assert "登录" in locked.content.decode()


def test_a_new_user_agent_per_attempt_does_not_reset_the_count(client, staff_member, settings):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "wrong", HTTP_USER_AGENT=f"guesser/{attempt}")

    refused = log_in(client, "the-right-password", HTTP_USER_AGENT="guesser/new")

    assert refused.status_code == 429
