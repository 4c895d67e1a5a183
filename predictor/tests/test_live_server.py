"""Retrain and roll back under a live gunicorn with two workers: no restart, no failed request."""

import http.cookiejar
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from predictor import services
from predictor.models import Activation, ModelVersion, PredictionRequest
from predictor.services import served

from . import live


@pytest.fixture
def server(transactional_db, linear_csv, trained_models, artifact_root, collected_static):
    trained_models.store(linear_csv)
    with live.gunicorn(artifact_root=artifact_root, static_root=collected_static) as base_url:
        yield base_url


BOUND = live.ACTIVATION_BOUND


def test_every_worker_follows_a_retrain_and_a_rollback_without_a_failed_request(server, linear_csv):
    url = f"{server}/api/predictions/"
    answers = {0: [], 1: []}  # per background client: (sent at, status, model_version), in order
    stop = threading.Event()

    def keep_asking(mine):
        while not stop.is_set():
            sent = time.monotonic()
            status, body = live.post_json(url, {"likes": 500, "shares": 300})
            mine.append((sent, status, body.get("model_version")))

    def served_after(moment):
        """Ask until the bound has passed since `moment`, then 20 more times."""
        time.sleep(max(0.0, moment + BOUND - time.monotonic()))
        return [live.post_json(url, {"likes": 1, "shares": 1}) for _ in range(20)]

    clients = [threading.Thread(target=keep_asking, args=(answers[i],)) for i in answers]
    for client in clients:
        client.start()
    try:
        _wait_for(lambda: min(map(len, answers.values())) >= 10)
        retrained_from = time.monotonic()
        second = services.retrain(data_path=linear_csv).version
        retrained = time.monotonic()
        after_retrain = served_after(retrained)
        # Each background client gets at least one answer before the rollback.
        _wait_for(
            lambda: all((201, second.label) in [a[1:] for a in mine] for mine in answers.values())
        )
        rolled_back_from = time.monotonic()
        first = services.activate(
            version=type(second).objects.get(number=1), door=Activation.Door.COMMAND
        )
        rolled_back = time.monotonic()
        after_rollback = served_after(rolled_back)
        _wait_for(lambda: min(map(len, answers.values())) >= 30)
    finally:
        stop.set()
        for client in clients:
            client.join()

    background = answers[0] + answers[1]
    assert {status for _, status, _ in background} == {201}
    assert [(status, body["model_version"]) for status, body in after_retrain] == [
        (201, second.label)
    ] * 20
    assert [(status, body["model_version"]) for status, body in after_rollback] == [
        (201, first.label)
    ] * 20
    # Each client saw v1, then v2, then v1 again: a version only until the bound has passed
    # since the next one's activation.
    for mine in answers.values():
        assert {v for sent, _, v in mine if sent < retrained_from} == {"v1"}
        assert {v for sent, _, v in mine if retrained + BOUND < sent < rolled_back_from} <= {"v2"}
        assert {v for sent, _, v in mine if sent > rolled_back + BOUND} == {"v1"}
        assert "v2" in {v for _, _, v in mine}
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

    assert health == (
        503,
        {
            "status": "unavailable",
            "detail": "The database is unavailable, so the request was not served.",
        },
    )
    assert api == (
        503,
        {
            "detail": "The database is unavailable, so the request was not served.",
            "code": "service_unavailable",
        },
    )
    assert form_error.value.code == 503
    assert "The database is unavailable" in form_error.value.read().decode()


METRICS_TOKEN = "metrics-token-for-live-tests-0123456789"


def test_a_worker_serves_a_linear_model_and_its_drift_gauges_without_pandas_sklearn_or_scipy(
    transactional_db, linear_csv, artifact_root, collected_static, trained_models
):
    trained_models.store(linear_csv)
    env = live.app_env(artifact_root=artifact_root, static_root=collected_static, workers=1)
    env["VIEWSITE_METRICS_TOKEN"] = METRICS_TOKEN
    with live.gunicorn_process(env, log_path=artifact_root.parent / "gunicorn.log") as (
        url,
        master,
    ):
        assert live.post_json(f"{url}/api/predictions/", {"likes": 5, "shares": 7})[0] == 201
        # Why this number, for a linear version, is read from the same JSON coefficients.
        item = {"likes": 5, "shares": 8}
        status, body = live.post_json(f"{url}/api/predictions/?explain=1", item)
        assert status == 201
        assert body["explanation"]["linear"] is True
        # The seal's checkpoint, with its histograms and drift figures; then a scrape, as
        # Prometheus's every few seconds, reads them without comparing anything itself.
        checkpoint = served.advance(through_id=PredictionRequest.objects.latest("pk").pk)
        assert checkpoint.input_histograms.filter(effect__isnull=False).count() == 2
        scrape = urllib.request.Request(
            f"{url}{reverse('predictor:metrics')}",
            headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
        )
        with urllib.request.urlopen(scrape, timeout=10) as response:
            scraped = response.read().decode()
        assert 'viewsite_input_drifted{feature="likes",version="v1"}' in scraped
        [worker] = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
        mapped = Path(f"/proc/{worker}/maps").read_text()

    # NumPy is loaded (it computes the prediction); the heavy stack it would bring is not, nor
    # SciPy for the drift gauges (62 MB more in every worker a scrape reaches).
    # (NumPy's own BLAS is named libscipy_openblas, so SciPy is looked for by its folder.)
    assert "pandas/_libs" not in mapped
    assert "sklearn" not in mapped
    assert "site-packages/scipy/" not in mapped


# --- Rollbacks by the command and by the admin, followed by every worker ------------------------


@dataclass
class WorkerLoggedServer:
    """gunicorn whose access log names the worker that answered each request."""

    url: str
    master_pid: int
    log_path: Path

    def workers(self) -> set[str]:
        children = Path(f"/proc/{self.master_pid}/task/{self.master_pid}/children")
        return set(children.read_text().split())

    def workers_of(self, request_ids, timeout=5.0) -> dict[str, str]:
        """The worker pid that answered each request id; a worker logs a request just after
        answering it, so this waits for the lines to appear."""
        deadline = time.monotonic() + timeout
        while True:
            logged = dict(
                (request_id, pid)
                for pid, request_id in re.findall(
                    r"^pid=<(\d+)> request_id=(\S+) ", self.log_path.read_text(), re.MULTILINE
                )
            )
            if all(request_id in logged for request_id in request_ids):
                return {request_id: logged[request_id] for request_id in request_ids}
            if time.monotonic() > deadline:
                missing = sorted(set(request_ids) - set(logged))
                raise AssertionError(f"not in the access log: {missing[:5]}")
            time.sleep(0.05)

    def ask_every_worker(self, tag: str, *, at_least: int = 20, limit: int = 400) -> dict:
        """Predictions from two clients at once, until at least `at_least` are answered and every
        worker has answered some of them: {request id: (status, version, worker pid)}."""
        answers = {}

        def ask(request_ids):
            for request_id in request_ids:
                status, body = live.request_json(
                    f"{self.url}/api/predictions/",
                    {"likes": 1, "shares": 1},
                    headers={"X-Request-ID": request_id},
                )
                answers[request_id] = (status, body.get("model_version"))

        while len(answers) < limit:
            batch = [f"{tag}-{len(answers) + i}" for i in range(10)]
            clients = [threading.Thread(target=ask, args=(batch[i::2],)) for i in range(2)]
            for client in clients:
                client.start()
            for client in clients:
                client.join()
            workers = self.workers_of(answers)
            if len(answers) >= at_least and set(workers.values()) == self.workers():
                return {key: (*answer, workers[key]) for key, answer in answers.items()}
        raise AssertionError(f"{limit} requests and not every worker answered one: {workers}")


@pytest.fixture
def worker_logged_server(
    transactional_db, linear_csv, trained_models, artifact_root, collected_static
):
    trained_models.store(linear_csv)
    env = live.app_env(artifact_root=artifact_root, static_root=collected_static, workers=2)
    # The deployment's access log has no pid; this one does, and nothing else is changed.
    env["GUNICORN_CMD_ARGS"] = (
        "--access-logformat='pid=%(p)s request_id=%({x-request-id}i)s status=%(s)s'"
    )
    log_path = artifact_root.parent / "gunicorn.log"
    with live.gunicorn_process(env, log_path=log_path) as (url, master):
        yield WorkerLoggedServer(url, master.pid, log_path)


class AdminBrowser:
    """The admin over HTTP as a person's browser uses it: a session cookie, and each form posted
    back with the CSRF token the page gave."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def open(self, path: str, form: dict | None = None) -> tuple[int, str, str]:
        """GET, or POST `form`; redirects are followed. Returns the status, the final path, and
        the page."""
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            data=None if form is None else urllib.parse.urlencode(form).encode(),
        )
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, urllib.parse.urlsplit(response.url).path, _read(response)
        except urllib.error.HTTPError as error:
            return error.code, path, _read(error)

    def hidden_fields(self, page: str) -> dict:
        return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))

    def log_in(self, username: str, password: str) -> None:
        _, _, page = self.open(f"{reverse('admin:login')}?next={reverse('admin:index')}")
        form = {**self.hidden_fields(page), "username": username, "password": password}
        status, path, page = self.open(reverse("admin:login"), form)
        assert (status, path) == (200, reverse("admin:index")), page
        assert "Log out" in page

    def activate(self, version: ModelVersion, reason: str) -> str:
        """Select the version, choose the action, give the reason when asked, confirm."""
        changelist = reverse("admin:predictor_modelversion_changelist")
        _, _, page = self.open(changelist)
        status, _, asking = self.open(
            changelist,
            {
                "csrfmiddlewaretoken": self.hidden_fields(page)["csrfmiddlewaretoken"],
                "action": "activate_version",
                "index": "0",
                "select_across": "0",
                "_selected_action": str(version.pk),
            },
        )
        assert status == 200
        assert 'name="reason"' in asking
        status, path, done = self.open(changelist, {**self.hidden_fields(asking), "reason": reason})
        assert (status, path) == (200, changelist)
        return done


def _read(response) -> str:
    return response.read().decode()


def test_a_rollback_by_the_command_then_by_the_admin_reaches_every_worker_and_is_recorded(
    worker_logged_server, linear_csv, django_user_model, trained_models
):
    server = worker_logged_server
    operator = django_user_model.objects.create_superuser(
        "operator", "operator@example.com", "pw-for-tests"
    )
    first = ModelVersion.objects.get(number=1)
    second = trained_models.store(linear_csv)
    assert len(server.workers()) == 2
    live.wait_for_activation()  # the workers asked which version is active before `second` was

    def served(answers) -> set:
        return {(status, version) for status, version, _ in answers.values()}

    # Both workers serve v2 and hold it in memory before it is rolled back.
    assert served(server.ask_every_worker("before-command")) == {(201, second.label)}
    call_command("activate", first.label, "--reason", "v2 over-predicts", verbosity=0)
    # Every request from the bound on, on every worker, is answered by v1.
    live.wait_for_activation()
    after_command = server.ask_every_worker("after-command")
    assert served(after_command) == {(201, first.label)}

    admin = AdminBrowser(server.url)
    admin.log_in("operator", "pw-for-tests")
    page = admin.activate(second, reason="the over-prediction is fixed upstream")
    assert f"Model {second.label} is now active." in page
    live.wait_for_activation()  # at once by the worker that activated it, the other within it
    after_admin = server.ask_every_worker("after-admin")
    assert served(after_admin) == {(201, second.label)}

    command, by_admin = Activation.objects.order_by("pk")[2:]  # after the two retrains'
    assert (command.version, command.previous, command.door, command.user, command.reason) == (
        first,
        second,
        Activation.Door.COMMAND,
        None,
        "v2 over-predicts",
    )
    assert (by_admin.version, by_admin.previous, by_admin.door, by_admin.user, by_admin.reason) == (
        second,
        first,
        Activation.Door.ADMIN,
        operator,
        "the over-prediction is fixed upstream",
    )
    # The audit trail agrees: each activation starts a run of rows answered by its version.
    answered = PredictionRequest.objects.filter(accepted=True)
    between = answered.filter(
        created_at__gte=command.activated_at, created_at__lt=by_admin.activated_at
    )
    since = answered.filter(created_at__gte=by_admin.activated_at)
    assert list(between.values_list("model_version", flat=True)) == [first.pk] * len(after_command)
    assert list(since.values_list("model_version", flat=True)) == [second.pk] * len(after_admin)
