"""Shared fixtures: a real SQLite file (or PostgreSQL via DATABASE_URL), collected static files,
small training files with a known answer, models trained once per session and stored afresh for
each test, and ways to tamper with a version's stored files."""

import copy
import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction
from django.db.models import Max
from django.test import override_settings
from django.utils import translation

from predictor import services
from predictor.models import Activation, Channel, ModelFile, ModelVersion, PredictionRequest
from predictor.services import registry

# The browser tests' fixtures (server, browser, browser_without_javascript), for every module.
pytest_plugins = ["predictor.tests.browser"]

HEADER = ("点赞数", "转发数", "浏览量")


def exact_views(likes: int, shares: int) -> int:
    """The known relation the `linear_csv` files follow exactly."""
    return 80 * likes + 60 * shares + 1000


def write_csv(path: Path, rows, header=HEADER, *, encoding="utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding=encoding) as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def linear_rows(count: int = 40, relation=exact_views):
    # Likes and shares vary independently so both coefficients are identifiable.
    return [
        (100 + 37 * i, 50 + (53 * i) % 400, relation(100 + 37 * i, 50 + (53 * i) % 400))
        for i in range(count)
    ]


def noisy_rows(count: int = 300, *, seed: int = 7):
    """Rows of the known relation with errors that grow with the views, as the course file's do:
    each real figure is the relation's value times a normal factor around 1 (sd 0.25)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    likes = rng.integers(0, 3000, size=count)
    shares = rng.integers(0, 2000, size=count)
    factors = rng.normal(1.0, 0.25, size=count)
    return [
        (int(like), int(share), max(0, round(exact_views(like, share) * factor)))
        for like, share, factor in zip(likes, shares, factors, strict=True)
    ]


@pytest.fixture
def noisy_csv(tmp_path) -> Path:
    return write_csv(tmp_path / "noisy.csv", noisy_rows())


def below_zero_views(likes: int, shares: int) -> int:
    """A relation with a negative intercept, as the course's own fit has (-14,432): positive on
    the articles below_zero_rows draws, below zero for the smallest inputs."""
    return 80 * likes + 60 * shares - 20_000


# Inputs answered by `below_zero_model`: inside its training range (likes 300 to 3,000, shares
# 100 to 2,000), below it (the plane below zero there), and above it.
INSIDE_RANGE = {"likes": 1500, "shares": 800}
BELOW_RANGE = {"likes": 10, "shares": 5}
ABOVE_RANGE = {"likes": 20_000, "shares": 20_000}


def below_zero_rows(count: int = 300, *, seed: int = 11):
    """Noisy rows of below_zero_views, every input inside likes 300..3,000, shares 100..2,000,
    with those ends drawn, so the training range is exactly that."""
    import numpy as np

    rng = np.random.default_rng(seed)
    likes = [300, 3000, *rng.integers(300, 3001, size=count - 2).tolist()]
    shares = [100, 2000, *rng.integers(100, 2001, size=count - 2).tolist()]
    factors = rng.normal(1.0, 0.25, size=count)
    return [
        (like, share, max(1000, round(below_zero_views(like, share) * factor)))
        for like, share, factor in zip(likes, shares, factors, strict=True)
    ]


@pytest.fixture
def below_zero_model(db, tmp_path, trained_models):
    """A real linear model with an interval of real width whose plane falls below zero under
    its training range (likes 300 to 3,000, shares 100 to 2,000)."""
    version = trained_models.store(write_csv(tmp_path / "below_zero.csv", below_zero_rows()))
    registry.clear_loaded_models()
    return version


@pytest.fixture
def ridge_model(db, tmp_path, trained_models):
    """A real ridge version (StandardScaler → RidgeCV, served by its unpickled pipeline) on the
    same data as below_zero_model, so that it too computes below zero under the range."""
    data = write_csv(tmp_path / "below_zero.csv", below_zero_rows())
    version = trained_models.store(data, algorithm="ridge")
    registry.clear_loaded_models()
    return version


@pytest.fixture(scope="session", autouse=True)
def collected_static(tmp_path_factory):
    """Production static storage (hashed names) needs a manifest, as after `collectstatic`."""
    root = tmp_path_factory.mktemp("static")
    with override_settings(STATIC_ROOT=str(root)):
        call_command("collectstatic", "--noinput", verbosity=0)
        yield root


@pytest.fixture(autouse=True)
def artifact_root(tmp_path, settings):
    """The folder artifacts were written to before they moved into the database: read only by
    migration 0010, so nothing may appear in it. Each test starts with no model loaded."""
    root = tmp_path / "artifacts"
    settings.ARTIFACT_ROOT = root
    registry.clear_loaded_models()
    yield root
    registry.clear_loaded_models()


def replace_stored_file(name: str, content: bytes) -> None:
    """Change a version's file in the database, as whoever can write it could (not its checksum,
    not its signature); the process forgets what it loaded, as a worker started afterwards."""
    assert ModelFile.objects.filter(name=name).update(content=content) == 1
    registry.clear_loaded_models()


def remove_stored_file(name: str) -> None:
    assert ModelFile.objects.filter(name=name).delete()[0] == 1
    registry.clear_loaded_models()


@pytest.fixture(scope="session")
def worker_number(worker_id) -> int:
    """0 in a run on one process, else which of pytest-xdist's workers this is (gw0, gw1, ...)."""
    return 0 if worker_id == "master" else int(worker_id.removeprefix("gw"))


@pytest.fixture(autouse=True)
def default_language():
    """Each test starts in the default language: a request's language stays active in the thread
    after it, and numbers and sentences written outside a request follow it."""
    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def quick_password_hashing(request, settings):
    """Django's advice for tests: a password hashed with PBKDF2's many rounds costs a good part
    of a second, and tests create users and log in by the hundred. Not for tests with a server
    of their own (transactional ones): it checks passwords with the real settings."""
    if "transactional_db" not in request.fixturenames:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_cache():
    """Rate-limit counters must not leak between tests."""
    cache.clear()


@pytest.fixture
def linear_csv(tmp_path) -> Path:
    return write_csv(tmp_path / "linear.csv", linear_rows())


@dataclass(frozen=True)
class Trained:
    """What `services.retrain` stored for one data file: the version's row (its fields as
    training set them), its files and its activation's reason, under the number it was given."""

    number: int
    fields: dict
    files: list[registry.StoredFile]
    reason: dict  # the activation's reason, reason_code and reason_parameters


class TrainedModels:
    """Models trained once per session, stored for each test as `retrain` stores them.

    Training (5-fold cross-validation, the fit, the card's plots) is most of what a test that
    only needs a model to answer would spend. So each data file is trained once, by the real
    `services.retrain`, in a transaction rolled back at once; what it wrote is kept, and each
    test gets its own rows through the same two calls `retrain` ends with: `store_version`
    (which signs them with the key the test has) and `activate` (which verifies and loads them).
    Tests that are about retraining call `services.retrain` themselves.
    """

    def __init__(self, django_db_blocker):
        self.blocker = django_db_blocker
        self.trained: dict[tuple, Trained] = {}

    def store(
        self, data_path: Path, *, algorithm: str = "linear", activate: bool = True
    ) -> ModelVersion:
        """The version `services.retrain(data_path=..., algorithm=...)` would store and
        activate, as the next version of this test's database."""
        content = data_path.read_bytes()
        key = (data_path.name, hashlib.sha256(content).hexdigest(), algorithm)
        if key not in self.trained:
            self.trained[key] = self._train(data_path, algorithm)
        trained = self.trained[key]
        with transaction.atomic():
            number = (ModelVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
            fields = copy.deepcopy(trained.fields)

            def rename(name: str) -> str:
                # Files are named after their version's number; the rest of a name is its hash.
                return name.replace(f"-v{trained.number}-", f"-v{number}-", 1)

            fields["artifact_name"] = rename(fields["artifact_name"])
            if fields["serving_name"]:
                fields["serving_name"] = rename(fields["serving_name"])
            for plot in fields["plots"].values():
                plot["name"] = rename(plot["name"])
            version = registry.store_version(
                version=ModelVersion(number=number, **fields),
                files=[registry.StoredFile(rename(f.name), f.content) for f in trained.files],
            )
            if activate:
                registry.activate(version=version, door=Activation.Door.RETRAIN, **trained.reason)
        return version

    def _train(self, data_path: Path, algorithm: str) -> Trained:
        # Whatever the test's database holds already: `force` keeps an active model's score
        # from refusing a candidate whose rows would not depend on it.
        with self.blocker.unblock(), transaction.atomic():
            version = services.retrain(data_path=data_path, algorithm=algorithm, force=True).version
            fields = ModelVersion.objects.filter(pk=version.pk).values().get()
            trained = Trained(
                number=version.number,
                fields={
                    name: value for name, value in fields.items() if name not in UNTRAINED_FIELDS
                },
                files=[
                    registry.StoredFile(name, bytes(content))
                    for name, content in version.files.values_list("name", "content")
                ],
                reason=Activation.objects.filter(version=version)
                .values("reason", "reason_code", "reason_parameters")
                .get(),
            )
            transaction.set_rollback(True)
        # Nothing this process loaded may outlive the rows it was loaded from.
        registry.clear_loaded_models()
        return trained


# Set when a version is stored, signed or activated, not by training.
UNTRAINED_FIELDS = {
    "id", "number", "created_at", "is_active", "activated_at", "signature", "signing_key"
}  # fmt: skip


@pytest.fixture(scope="session")
def trained_models(django_db_setup, django_db_blocker) -> TrainedModels:
    return TrainedModels(django_db_blocker)


@pytest.fixture
def active_model(db, linear_csv, trained_models):
    """A real model, trained by the real retrain service on data with a known answer (once per
    session), stored and activated in this test's database as `retrain` does.

    Activation loads the model into this process; forget it, as a serving worker has not seen it.
    """
    version = trained_models.store(linear_csv)
    registry.clear_loaded_models()
    return version


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("auditor", password="pw-for-tests", is_staff=True)


@pytest.fixture
def plain_user(django_user_model):
    return django_user_model.objects.create_user("reader", password="pw-for-tests")


# --- The audit trail's triggers and Django's flush (issue 13 §4) ---------------------------------
# After a transactional test (live server, browser) Django empties every table: TRUNCATE on
# PostgreSQL, DELETE FROM on SQLite. The append-only triggers rightly refuse both. So, for
# transactional tests only, the triggers are lifted just for the flush and put back at once,
# with the same SQL the migration runs (predictor/append_only.py). Overriding the public
# `transactional_db` fixture orders it: `_restore_append_only_triggers` is set up before
# pytest-django's fixture and so torn down after its flush; this fixture is torn down before it.


@pytest.fixture
def _restore_append_only_triggers(django_db_blocker):
    yield
    from django.db import connection

    from predictor import append_only

    with django_db_blocker.unblock():
        append_only.install(connection)


@pytest.fixture
def transactional_db(_restore_append_only_triggers, transactional_db):
    yield
    from django.db import connection

    from predictor import append_only

    append_only.drop(connection)


def pytest_terminal_summary(terminalreporter):
    """`make chaos` ends with one table of what every scenario sent, got and survived."""
    from . import chaos

    chaos.print_table(terminalreporter.write)


# Refusals as audit rows hold them, written before codes were stored (English or Chinese
# sentences, Django's {"message", "code"}) and after (codes with parameters), each with how it
# reads in English and in Chinese: (case id, stored errors, English, Chinese).
STORED_REFUSALS = [
    (
        "old English bound",
        {"likes": ["Ensure this value is less than or equal to 20,000."]},
        "Ensure this value is less than or equal to 20,000.",
        "确保该值小于或等于20,000。",
    ),
    (
        "old Chinese bound",
        {"likes": ["确保该值小于或等于20,000。"]},
        "Ensure this value is less than or equal to 20,000.",
        "确保该值小于或等于20,000。",
    ),
    (
        "old form pair",
        {"likes": [{"message": "Enter a whole number.", "code": "invalid"}]},
        "Enter a whole number.",
        "输入整数。",
    ),
    (
        "old CSRF",
        {"request": ["CSRF check failed: CSRF token missing."]},
        "CSRF check failed: CSRF token missing.",
        "CSRF 检查未通过：CSRF token missing.",
    ),
    (
        "old no model",
        {"model": ["No model is active yet. Run `python manage.py retrain` first."]},
        "No model is active yet. Run `python manage.py retrain` first.",
        "还没有启用的模型。请先运行 `python manage.py retrain`。",
    ),
    (
        "old DRF English",
        {"likes": ["A valid integer is required."]},
        "A valid integer is required.",
        "请填写合法的整数值。",
    ),
    (
        "old DRF Chinese",
        {"likes": ["请填写合法的整数值。"]},
        "A valid integer is required.",
        "请填写合法的整数值。",
    ),
    (
        "code bound",
        {"likes": [{"code": "max_value", "params": {"limit_value": 20000}}]},
        "Ensure this value is less than or equal to 20,000.",
        "确保该值小于或等于20,000。",
    ),
    (
        "code with input",
        {"likes": [{"code": "not_a_number", "params": {"value": "abc"}}]},
        "“abc” is not a whole number.",
        "“abc”不是整数。",
    ),
    (
        "code no model",
        {"model": [{"code": "no_active_model", "params": {}}]},
        "No model is active yet. Run `python manage.py retrain` first.",
        "还没有启用的模型。请先运行 `python manage.py retrain`。",
    ),
    (
        "library code and message",
        {"request": [{"code": "authentication_failed", "message": "Invalid token."}]},
        "Invalid token.",
        "认证令牌无效。",
    ),
]


def stored_refusal_row(errors):
    """An audit row as a door once wrote it, inserted directly (the trail only appends)."""
    return PredictionRequest.objects.create(
        channel=Channel.API,
        accepted=False,
        raw_input={"likes": "x"},
        errors=errors,
        latency_ms=1.5,
    )
