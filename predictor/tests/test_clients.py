"""The client address every door records and limits by: DRF's reading through NUM_PROXIES."""

import pytest

from predictor.clients import client_ip


@pytest.mark.parametrize(
    ("num_proxies", "forwarded", "remote", "expected"),
    [
        (0, "198.51.100.1", "10.0.0.5", "10.0.0.5"),  # no proxy trusted: the header is ignored
        (1, "198.51.100.1", "127.0.0.1", "198.51.100.1"),
        (1, "6.6.6.6, 198.51.100.1", "127.0.0.1", "198.51.100.1"),  # a forged first hop is skipped
        (1, None, "127.0.0.1", "127.0.0.1"),
        (1, "not-an-ip", "127.0.0.1", None),
    ],
)
def test_client_ip_trusts_only_the_configured_number_of_proxies(
    rf, settings, num_proxies, forwarded, remote, expected
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies}
    headers = {"REMOTE_ADDR": remote}
    if forwarded:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    request = rf.post("/", **headers)
    assert client_ip(request) == expected


def test_headers_a_client_can_write_other_than_x_forwarded_for_are_ignored(rf, settings):
    # nginx passes Client-IP and X-Real-IP through as the client sent them unless told not to.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    request = rf.post(
        "/",
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.1",
        HTTP_CLIENT_IP="10.0.0.1",
        HTTP_X_REAL_IP="10.0.0.2",
    )
    assert client_ip(request) == "198.51.100.1"
