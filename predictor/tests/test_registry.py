import io
import json
import pickle
import warnings

import joblib
import pytest
from sklearn.exceptions import InconsistentVersionWarning

from predictor import services
from predictor.models import Activation, ModelVersion
from predictor.services import registry


def test_the_active_model_is_loaded_once_per_process(active_model, artifact_root):
    first = services.load_model(active_model)
    # Once loaded, the worker answers from memory, not from the file.
    (artifact_root / active_model.artifact_name).unlink()
    assert services.load_model(active_model) is first


def test_a_tampered_artifact_is_refused_before_it_is_unpickled(active_model, artifact_root):
    artifact = artifact_root / active_model.artifact_name
    # A pickle that would run code when loaded: it must never be loaded.
    artifact.write_bytes(pickle.dumps(_Explodes()))

    with pytest.raises(services.ArtifactIntegrityError, match="does not match the recorded sha256"):
        services.load_model(active_model)


def test_a_missing_artifact_makes_the_model_unavailable(active_model, artifact_root):
    (artifact_root / active_model.artifact_name).unlink()
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


def test_artifacts_are_written_whole_under_content_addressed_names(db, artifact_root):
    from sklearn.linear_model import LinearRegression

    estimator = LinearRegression().fit([[0, 0], [1, 2], [3, 1]], [0, 5, 7])
    stored = registry.store_artifacts(estimator=estimator, number=7)

    assert stored.name == f"model-v7-{stored.sha256[:12]}.joblib"
    assert stored.serving_name == f"model-v7-{stored.serving_sha256[:12]}.json"
    # No temporary file left.
    assert {p.name for p in artifact_root.iterdir()} == {stored.name, stored.serving_name}
    loaded = joblib.load(io.BytesIO((artifact_root / stored.name).read_bytes()))
    assert loaded.coef_.tolist() == pytest.approx(estimator.coef_.tolist())
    spec = json.loads((artifact_root / stored.serving_name).read_text())
    assert spec["coefficients"] == estimator.coef_.tolist()
    assert spec["intercept"] == estimator.intercept_


def test_a_model_that_is_not_linear_has_no_serving_file(db, artifact_root):
    from sklearn.tree import DecisionTreeRegressor

    estimator = DecisionTreeRegressor().fit([[0, 0], [1, 2], [3, 1]], [0, 5, 7])
    stored = registry.store_artifacts(estimator=estimator, number=8)

    assert (stored.serving_name, stored.serving_sha256) == ("", "")
    assert [p.name for p in artifact_root.iterdir()] == [stored.name]


def test_activating_an_older_version_rolls_back(db, linear_csv):
    first = services.retrain(data_path=linear_csv).version
    second = services.retrain(data_path=linear_csv).version

    services.activate(version=first, door=Activation.Door.COMMAND)

    assert services.active_version() == first
    second.refresh_from_db()
    assert not second.is_active
    assert ModelVersion.objects.filter(is_active=True).count() == 1


def test_a_version_whose_artifact_is_broken_cannot_be_activated(db, linear_csv, artifact_root):
    first = services.retrain(data_path=linear_csv).version
    second = services.retrain(data_path=linear_csv).version
    (artifact_root / first.artifact_name).write_bytes(b"corrupt")
    registry.clear_loaded_models()

    with pytest.raises(services.ArtifactIntegrityError):
        services.activate(version=first, door=Activation.Door.COMMAND)
    assert services.active_version() == second


def test_the_database_allows_only_one_active_version(db, linear_csv):
    from django.db import IntegrityError, transaction

    first = services.retrain(data_path=linear_csv).version
    second = services.retrain(data_path=linear_csv, activate=False).version
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=second.pk).update(is_active=True)
    assert services.active_version() == first


class _Explodes:
    def __reduce__(self):
        return (exec, ("raise SystemExit('unpickled a tampered artifact')",))


def test_artifacts_go_through_the_storage_api_so_any_backend_works(db, linear_csv, settings):
    # Object storage (S3 through django-storages) is the same kind of switch as this one.
    settings.STORAGES = {
        **settings.STORAGES,
        "artifacts": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    version = services.retrain(data_path=linear_csv).version
    registry.clear_loaded_models()

    assert registry.artifact_storage().exists(version.artifact_name)
    assert services.load_model(version).predict([[1, 1]])[0] == pytest.approx(80 + 60 + 1000)
