import io
import json
import pickle
import time
import warnings

import joblib
import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from sklearn.exceptions import InconsistentVersionWarning

from predictor import services
from predictor.models import Activation, ModelFile, ModelVersion, PredictionRequest
from predictor.services import registry

from .conftest import remove_stored_file, replace_stored_file


def test_the_active_model_is_loaded_once_per_process(active_model):
    first = services.load_model(active_model)
    # Once loaded, the worker answers from memory, not from the database.
    ModelFile.objects.filter(name=active_model.artifact_name).delete()
    assert services.load_model(active_model) is first


def test_retrain_stores_every_file_in_the_database_and_writes_none(db, linear_csv, artifact_root):
    var = settings.VAR_DIR

    def files():
        # Not the test databases, nor the screenshots another test worker may be taking now.
        return {
            path
            for path in var.rglob("*")
            if not path.name.startswith("test-viewsite") and "screenshots" not in path.parts
        }

    before = files()

    version = services.retrain(data_path=linear_csv).version

    stored = dict(ModelFile.objects.filter(version=version).values_list("name", "content"))
    names = {version.artifact_name, version.serving_name}
    names |= {plot["name"] for plot in version.plots.values()}
    assert set(stored) == names
    assert len(names) == 2 + 3 * len(settings.LANGUAGES)  # artifact, spec, plots per language
    model = joblib.load(io.BytesIO(bytes(stored[version.artifact_name])))
    assert model.predict([[1, 1]])[0] == pytest.approx(80 + 60 + 1000)
    assert json.loads(bytes(stored[version.serving_name]))["intercept"] == pytest.approx(1000)
    # No file anywhere: not in the old artifacts folder, nor anywhere else under var/.
    assert not artifact_root.exists()
    assert files() == before


def test_a_refused_signature_leaves_no_version_and_no_file(db, linear_csv, settings):
    services.retrain(data_path=linear_csv)
    settings.VIEWSITE_ARTIFACT_SIGNING_KEY = ""

    with pytest.raises(services.ViewsiteError, match="VIEWSITE_ARTIFACT_SIGNING_KEY is not set"):
        services.retrain(data_path=linear_csv)

    assert ModelVersion.objects.count() == 1
    assert ModelFile.objects.exclude(version__number=1).count() == 0


def test_a_tampered_artifact_is_refused_before_it_is_unpickled(active_model, tmp_path):
    marker = tmp_path / "unpickled"
    # A pickle that would leave a file behind if it were ever loaded.
    replace_stored_file(active_model.artifact_name, pickle.dumps(_LeavesMarker(marker)))

    with pytest.raises(services.ArtifactIntegrityError, match="does not match the recorded sha256"):
        services.load_model(active_model)
    assert not marker.exists()


def test_bytes_and_checksum_replaced_by_sql_are_refused_and_never_unpickled(
    db, linear_csv, tmp_path
):
    """The issue's case: whoever can write the database replaces an artifact and its checksum
    together, so the checksum agrees; the signature does not, and nothing is unpickled."""
    # Ridge is served from its unpickled artifact (no JSON shortcut), so a prediction would load it.
    version = services.retrain(data_path=linear_csv, algorithm="ridge").version
    assert version.serving_name == ""
    registry.clear_loaded_models()
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(_LeavesMarker(marker))
    # The same trap pointed elsewhere does fire, so a missing marker means "never unpickled".
    joblib.load(io.BytesIO(pickle.dumps(_LeavesMarker(tmp_path / "control"))))
    assert (tmp_path / "control").exists()

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE predictor_modelfile SET content = %s WHERE name = %s",
            [payload, version.artifact_name],
        )
        cursor.execute(
            "UPDATE predictor_modelversion SET artifact_sha256 = %s WHERE id = %s",
            [_sha256(payload), version.pk],
        )
    tampered = ModelVersion.objects.get(pk=version.pk)
    assert tampered.artifact_sha256 == _sha256(payload)

    with pytest.raises(services.ArtifactIntegrityError, match="signature does not match"):
        services.load_model(tampered)
    with pytest.raises(services.ArtifactIntegrityError, match="signature does not match"):
        services.predict(inputs=[{"likes": 1, "shares": 1}], raw_inputs=[{}], info=_cli())
    with pytest.raises(services.ArtifactIntegrityError):
        services.activate(version=tampered, door=Activation.Door.COMMAND)
    assert not marker.exists()
    refused = PredictionRequest.objects.get()
    assert not refused.accepted
    [stored] = refused.errors["model"]
    assert stored["code"] == "model_unavailable"
    assert "v1 cannot be served" in stored["message"]


def test_a_missing_artifact_makes_the_model_unavailable(active_model):
    remove_stored_file(active_model.artifact_name)
    with pytest.raises(services.ModelUnavailable, match="cannot be read"):
        services.load_model(active_model)


def test_an_artifact_from_another_scikit_learn_version_is_refused(active_model, monkeypatch):
    def load_with_version_warning(*args, **kwargs):
        warnings.warn(
            InconsistentVersionWarning(
                estimator_name="LinearRegression",
                current_sklearn_version="9.9.9",
                original_sklearn_version="0.0.1",
            ),
            stacklevel=1,
        )

    # joblib.load is the one stand-in here: producing a real pickle from another scikit-learn
    # needs that version installed. The warning object and the code reacting to it are real.
    monkeypatch.setattr(joblib, "load", load_with_version_warning)
    with pytest.raises(services.ModelUnavailable, match=r"trained with scikit-learn 0\.0\.1"):
        services.load_model(active_model)


def test_model_files_are_named_by_their_content():
    from sklearn.linear_model import LinearRegression

    estimator = LinearRegression().fit([[0, 0], [1, 2], [3, 1]], [0, 5, 7])
    artifact, serving = registry.model_files(estimator=estimator, number=7)

    assert artifact.name == f"model-v7-{artifact.sha256[:12]}.joblib"
    assert serving.name == f"model-v7-{serving.sha256[:12]}.json"
    loaded = joblib.load(io.BytesIO(artifact.content))
    assert loaded.coef_.tolist() == pytest.approx(estimator.coef_.tolist())
    spec = json.loads(serving.content)
    assert spec["coefficients"] == estimator.coef_.tolist()
    assert spec["intercept"] == estimator.intercept_


def test_a_model_that_is_not_linear_has_no_serving_file():
    from sklearn.tree import DecisionTreeRegressor

    estimator = DecisionTreeRegressor().fit([[0, 0], [1, 2], [3, 1]], [0, 5, 7])
    artifact, serving = registry.model_files(estimator=estimator, number=8)

    assert serving is None
    assert artifact.name.endswith(".joblib")


def test_activating_an_older_version_rolls_back(db, linear_csv, trained_models):
    first = trained_models.store(linear_csv)
    second = trained_models.store(linear_csv)

    services.activate(version=first, door=Activation.Door.COMMAND)

    assert services.active_version() == first
    second.refresh_from_db()
    assert not second.is_active
    assert ModelVersion.objects.filter(is_active=True).count() == 1


def test_a_version_whose_artifact_is_broken_cannot_be_activated(db, linear_csv, trained_models):
    first = trained_models.store(linear_csv)
    second = trained_models.store(linear_csv)
    replace_stored_file(first.artifact_name, b"corrupt")

    with pytest.raises(services.ArtifactIntegrityError):
        services.activate(version=first, door=Activation.Door.COMMAND)
    assert services.active_version() == second


def test_the_database_allows_only_one_active_version(db, linear_csv, trained_models):
    from django.db import IntegrityError, transaction

    first = trained_models.store(linear_csv)
    second = trained_models.store(linear_csv, activate=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=second.pk).update(is_active=True)
    assert services.active_version() == first


def test_a_changed_row_is_verified_again_not_served_from_memory(active_model, settings):
    services.predict(inputs=[{"likes": 1, "shares": 1}], raw_inputs=[{}], info=_cli())
    # This worker has the version loaded; its row's signature is then changed by hand, and the
    # worker asks the database again (here on every prediction).
    ModelVersion.objects.filter(pk=active_model.pk).update(signature="A" * 88)
    settings.VIEWSITE_ACTIVE_VERSION_MAX_AGE = 0

    with pytest.raises(services.ArtifactIntegrityError, match="signature does not match"):
        services.predict(inputs=[{"likes": 1, "shares": 1}], raw_inputs=[{}], info=_cli())


class _LeavesMarker:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _sha256(payload: bytes) -> str:
    import hashlib

    return hashlib.sha256(payload).hexdigest()


def _cli():
    return services.RequestInfo(channel="cli")


def test_the_serving_version_is_read_from_memory_within_the_bound(active_model):
    assert registry.serving_version() == active_model  # read from the database

    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert registry.serving_version() == active_model
    assert queries.captured_queries == []


def test_an_activation_elsewhere_is_served_once_the_bound_has_passed(
    active_model, linear_csv, trained_models, settings
):
    settings.VIEWSITE_ACTIVE_VERSION_MAX_AGE = 0.2
    newer = trained_models.store(linear_csv, activate=False)
    assert registry.serving_version() == active_model
    # Another process activates `newer`; this one has not asked since.
    ModelVersion.objects.filter(pk=active_model.pk).update(is_active=False)
    ModelVersion.objects.filter(pk=newer.pk).update(is_active=True)
    activated = time.monotonic()

    while registry.serving_version() != newer:
        assert time.monotonic() - activated < 0.2 + 1, "the activation was never served"
    assert time.monotonic() - activated < 0.2 + 1
    with CaptureQueriesContext(connection) as queries:
        assert registry.serving_version() == newer
    assert queries.captured_queries == []


def test_an_activation_in_this_process_is_served_at_once(active_model, linear_csv, trained_models):
    newer = trained_models.store(linear_csv, activate=False)
    assert registry.serving_version() == active_model

    services.activate(version=newer, door=Activation.Door.COMMAND)

    assert registry.serving_version() == newer


# --- Why a version was activated: a code, said in the reader's language ---------------------------


def test_retrain_records_why_it_activated_as_a_code_said_in_each_language(
    db, linear_csv, trained_models
):
    version = trained_models.store(linear_csv)  # as services.retrain activated it
    activation = Activation.objects.get(version=version)

    assert (activation.reason_code, activation.reason) == (Activation.Reason.RETRAINED, "")
    assert activation.reason_parameters == {
        "algorithm": "linear",
        "data_file": "linear.csv",
        "outcome_rows": 0,
    }
    with translation.override("en"):
        assert activation.reason_text() == (
            "Retrained on linear.csv (linear regression), switched on automatically"
        )
    with translation.override("zh-hans"):
        assert activation.reason_text() == "用 linear.csv 重新训练（线性回归），训练完自动启用"


def test_a_retrain_on_recorded_outcomes_names_how_many_grouped(db, linear_csv, trained_models):
    version = trained_models.store(linear_csv, activate=False)
    reason_code, reason_parameters = Activation.retrained(
        algorithm="hist-gb", data_file="wechat.csv", outcome_rows=12345
    )
    services.activate(
        version=version,
        door=Activation.Door.RETRAIN,
        reason_code=reason_code,
        reason_parameters=reason_parameters,
    )
    activation = Activation.objects.get(version=version)

    with translation.override("en"):
        assert activation.reason_text() == (
            "Retrained on wechat.csv plus 12,345 real view counts (boosted decision trees), "
            "switched on automatically"
        )
    with translation.override("zh-hans"):
        assert activation.reason_text() == (
            "用 wechat.csv 和 12,345 条真实浏览量重新训练（梯度提升决策树），训练完自动启用"
        )


def test_a_reason_a_person_typed_reads_as_they_typed_it_in_every_language(
    db, linear_csv, trained_models
):
    first = trained_models.store(linear_csv)
    trained_models.store(linear_csv)
    services.activate(version=first, door=Activation.Door.COMMAND, reason="v2 算多了")
    latest = Activation.objects.latest("pk")

    assert latest.reason_code == Activation.Reason.STATED
    for language in ("en", "zh-hans"):
        with translation.override(language):
            assert latest.reason_text() == "v2 算多了"


REASONS_BEFORE = ("predictor", "0019_remove_served_count")
REASON_CODES = ("predictor", "0020_activation_reason_codes")


def test_migration_0020_turns_retrains_sentences_into_codes_and_keeps_other_text(
    transactional_db, linear_csv, trained_models
):
    version = trained_models.store(linear_csv, activate=False)
    registry.clear_loaded_models()
    executor = MigrationExecutor(connection)
    executor.migrate([REASONS_BEFORE])
    old = executor.loader.project_state([REASONS_BEFORE]).apps.get_model("predictor", "Activation")
    written = {
        text: old.objects.create(version_id=version.pk, door=door, reason=text).pk
        for door, text in (
            ("retrain", "retrained (linear) on wechat_articles_sample.csv"),
            ("retrain", "retrained (log-linear) on my data (2).csv and 37 real outcomes"),
            ("retrain", "retrained by hand, see the wiki"),  # not retrain's sentence
            ("command", "retrained (linear) on a.csv"),  # a person may type anything
            ("admin", "v2 over-predicts"),
        )
    }

    executor = MigrationExecutor(connection)
    executor.migrate([REASON_CODES])
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes("predictor"))

    converted = {
        text: Activation.objects.values_list("reason_code", "reason_parameters", "reason").get(
            pk=pk
        )
        for text, pk in written.items()
    }
    assert converted == {
        "retrained (linear) on wechat_articles_sample.csv": (
            "retrained",
            {"algorithm": "linear", "data_file": "wechat_articles_sample.csv", "outcome_rows": 0},
            "",
        ),
        "retrained (log-linear) on my data (2).csv and 37 real outcomes": (
            "retrained",
            {"algorithm": "log-linear", "data_file": "my data (2).csv", "outcome_rows": 37},
            "",
        ),
        "retrained by hand, see the wiki": ("stated", {}, "retrained by hand, see the wiki"),
        "retrained (linear) on a.csv": ("stated", {}, "retrained (linear) on a.csv"),
        "v2 over-predicts": ("stated", {}, "v2 over-predicts"),
    }
    with translation.override("zh-hans"):
        assert Activation.objects.get(pk=written["v2 over-predicts"]).reason_text() == (
            "v2 over-predicts"
        )
        assert Activation.objects.get(
            pk=written["retrained (log-linear) on my data (2).csv and 37 real outcomes"]
        ).reason_text() == (
            "用 my data (2).csv 和 37 条真实浏览量重新训练（对数线性回归），训练完自动启用"
        )


def test_a_reason_for_a_page_is_escaped_and_marks_the_file_name_as_code(
    db, linear_csv, trained_models
):
    first = trained_models.store(linear_csv)
    second = trained_models.store(linear_csv, activate=False)
    services.activate(version=first, door=Activation.Door.COMMAND, reason="<b>v2</b> & co")
    reason_code, reason_parameters = Activation.retrained(
        algorithm="linear", data_file="<i>.csv", outcome_rows=0
    )
    services.activate(
        version=second,
        door=Activation.Door.RETRAIN,
        reason_code=reason_code,
        reason_parameters=reason_parameters,
    )
    stated, retrained = Activation.objects.order_by("-pk")[1], Activation.objects.latest("pk")

    with translation.override("en"):
        assert stated.reason_html() == "&lt;b&gt;v2&lt;/b&gt; &amp; co"
        assert retrained.reason_html() == (
            "Retrained on <code>&lt;i&gt;.csv</code> (linear regression), switched on automatically"
        )
        assert retrained.reason_text() == (
            "Retrained on <i>.csv (linear regression), switched on automatically"
        )
