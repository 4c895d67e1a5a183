"""Retrain and roll back under a live gunicorn with two workers: no restart, no failed request."""

import http.cookiejar
import itertools
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from predictor import services
from predictor.models import Activation, PredictionRequest

from . import live


@pytest.fixture
def server(transactional_db, linear_csv, artifact_root, collected_static):
    services.retrain(data_path=linear_csv)
    with live.gunicorn(artifact_root=artifact_root, static_root=collected_static) as base_url:
        yield base_url


def test_every_worker_follows_a_retrain_and_a_rollback_without_a_failed_request(server, linear_csv):
    url = f"{server}/api/predictions/"
    answers = {0: [], 1: []}  # per background client: (status, model_version), in order
    stop = threading.Event()

    def keep_asking(mine):
        while not stop.is_set():
            status, body = live.post_json(url, {"likes": 500, "shares": 300})
            mine.append((status, body.get("model_version")))

    clients = [threading.Thread(target=keep_asking, args=(answers[i],)) for i in answers]
    for client in clients:
        client.start()
    try:
        _wait_for(lambda: min(map(len, answers.values())) >= 10)
        second = services.retrain(data_path=linear_csv).version
        after_retrain = [live.post_json(url, {"likes": 1, "shares": 1}) for _ in range(20)]
        # Each background client gets at least one answer before the rollback.
        _wait_for(lambda: all((201, second.label) in mine for mine in answers.values()))
        first = services.activate(
            version=type(second).objects.get(number=1), door=Activation.Door.COMMAND
        )
        after_rollback = [live.post_json(url, {"likes": 1, "shares": 1}) for _ in range(20)]
        _wait_for(lambda: min(map(len, answers.values())) >= 30)
    finally:
        stop.set()
        for client in clients:
            client.join()

    background = answers[0] + answers[1]
    assert {status for status, _ in background} == {201}
    assert [(status, body["model_version"]) for status, body in after_retrain] == [
        (201, second.label)
    ] * 20
    assert [(status, body["model_version"]) for status, body in after_rollback] == [
        (201, first.label)
    ] * 20
    # Each client saw v1, then v2, then v1 again: never an old version after a newer activation.
    for mine in answers.values():
        seen = [version for _, version in mine]
        assert [version for version, _ in itertools.groupby(seen)] == ["v1", "v2", "v1"]
    # Every request is in the audit trail.
    assert PredictionRequest.objects.count() == len(background) + 40


def _wait_for(condition, timeout=30.0):
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the background clients")
        time.sleep(0.05)


def test_many_concurrent_writers_all_succeed_and_are_all_audited(server):
    """SQLite in WAL mode with immediate transactions: two workers, eight clients, no lock error."""
    url = f"{server}/api/predictions/"
    statuses = []

    def client(number):
        for i in range(25):
            statuses.append(live.post_json(url, {"likes": number * 100 + i, "shares": i})[0])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [201] * 200
    assert PredictionRequest.objects.count() == 200


def test_without_a_database_every_door_answers_503_not_a_traceback(
    transactional_db, artifact_root, collected_static
):
    dead_database = "postgres://postgres@127.0.0.1:1/unreachable"
    with live.gunicorn(
        artifact_root=artifact_root, static_root=collected_static, database=dead_database
    ) as base_url:
        health = live.request_json(f"{base_url}/healthz")
        api = live.post_json(f"{base_url}/api/predictions/", {"likes": 1, "shares": 1})
        browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        page = browser.open(f"{base_url}/", timeout=10).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.request.Request(
            f"{base_url}/",
            data=urllib.parse.urlencode(
                {"likes": 1, "shares": 1, "csrfmiddlewaretoken": token}
            ).encode(),
            headers={"Referer": f"{base_url}/"},
        )
        with pytest.raises(urllib.error.HTTPError) as form_error:
            browser.open(form, timeout=10)

    assert health == (503, {"status": "unavailable", "detail": "The database is unreachable."})
    assert api == (
        503,
        {
            "detail": "The database is unavailable, so the request was not served.",
            "code": "service_unavailable",
        },
    )
    assert form_error.value.code == 503
    assert "The database is unavailable" in form_error.value.read().decode()


def test_a_worker_serves_a_linear_model_without_pandas_or_scikit_learn(
    transactional_db, linear_csv, artifact_root, collected_static
):
    services.retrain(data_path=linear_csv)
    env = live.app_env(artifact_root=artifact_root, static_root=collected_static, workers=1)
    with live.gunicorn_process(env, log_path=artifact_root.parent / "gunicorn.log") as (
        url,
        master,
    ):
        assert live.post_json(f"{url}/api/predictions/", {"likes": 5, "shares": 7})[0] == 201
        [worker] = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
        mapped = Path(f"/proc/{worker}/maps").read_text()

    # NumPy is loaded (it computes the prediction); the heavy stack it would bring is not.
    # (NumPy's own BLAS is named libscipy_openblas, so SciPy is looked for by its folder.)
    assert "pandas/_libs" not in mapped
    assert "sklearn" not in mapped
    assert "site-packages/scipy/" not in mapped
