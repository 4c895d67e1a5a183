import pytest
import sklearn
from django.core.files.storage import storages

from predictor import services
from predictor.models import ModelVersion
from predictor.services import registry

from .conftest import linear_rows, write_csv


def test_retrain_recovers_a_known_linear_relation_and_records_its_provenance(db, linear_csv):
    report = services.retrain(data_path=linear_csv)

    version = report.version
    assert version.number == 1
    assert version.is_active
    assert version.activated_at is not None
    assert report.parameters["coefficients"] == pytest.approx({"likes": 80.0, "shares": 60.0})
    assert report.parameters["intercept"] == pytest.approx(1000.0)
    assert version.cv_r2 == pytest.approx(1.0)
    assert version.cv_mae == pytest.approx(0.0, abs=1e-6)
    assert version.cv_folds == 5
    assert version.training_rows == 40
    assert version.features == ["likes", "shares"]
    assert version.sklearn_version == sklearn.__version__
    assert version.data_file_name == "linear.csv"
    assert len(version.data_sha256) == 64
    assert storages["artifacts"].exists(version.artifact_name)


def test_each_retrain_is_a_new_version_and_the_newest_is_active(db, linear_csv):
    first = services.retrain(data_path=linear_csv).version
    second = services.retrain(data_path=linear_csv).version

    first.refresh_from_db()
    assert (first.number, second.number) == (1, 2)
    assert not first.is_active
    assert second.is_active
    assert ModelVersion.objects.filter(is_active=True).count() == 1


def test_a_candidate_under_the_r2_floor_is_refused_and_nothing_is_written(
    db, tmp_path, artifact_root, settings
):
    settings.VIEWSITE_MIN_R2 = 0.5
    noise = [(a, b, (a * 7919 + b * 104729) % 5000) for a, b, _ in linear_rows()]
    path = write_csv(tmp_path / "noise.csv", noise)

    with pytest.raises(services.QualityGateRefused, match=r"below the minimum 0\.5000") as refused:
        services.retrain(data_path=path)

    assert refused.value.report.cv.r2 < 0.5
    assert ModelVersion.objects.count() == 0
    assert not artifact_root.exists() or not any(artifact_root.iterdir())


def test_a_candidate_clearly_worse_than_the_active_model_is_refused(db, linear_csv, tmp_path):
    active = services.retrain(data_path=linear_csv).version
    # The same articles, four of them with wildly wrong view counts: a model fitted to this
    # generalises worse than the active model does on the very same rows.
    shifts = {3: 60_000, 11: -50_000, 25: 55_000, 33: -60_000}
    corrupted = [(a, b, v + shifts.get(i, 0)) for i, (a, b, v) in enumerate(linear_rows())]
    path = write_csv(tmp_path / "corrupted.csv", corrupted)

    with pytest.raises(
        services.QualityGateRefused, match="below the active model v1's R²"
    ) as refused:
        services.retrain(data_path=path)

    report = refused.value.report
    assert report.cv.r2 < report.active_metrics.r2 - 0.05
    active.refresh_from_db()
    assert active.is_active
    assert ModelVersion.objects.count() == 1


def test_force_stores_and_activates_a_refused_candidate(db, linear_csv, settings):
    settings.VIEWSITE_MIN_R2 = 1.5  # unreachable
    report = services.retrain(data_path=linear_csv, force=True)
    assert not report.gate_passed
    assert report.activated


def test_dry_run_reports_but_stores_nothing(db, linear_csv):
    report = services.retrain(data_path=linear_csv, dry_run=True)
    assert report.version is None
    assert report.cv.r2 == pytest.approx(1.0)
    assert ModelVersion.objects.count() == 0


def test_no_activate_stores_the_version_but_keeps_serving_the_active_one(db, linear_csv):
    active = services.retrain(data_path=linear_csv).version
    report = services.retrain(data_path=linear_csv, activate=False)
    assert report.version.number == 2
    assert not report.version.is_active
    assert services.active_version() == active


def test_a_bad_file_leaves_the_active_model_as_it_was(db, linear_csv, tmp_path):
    active = services.retrain(data_path=linear_csv).version
    rows = linear_rows()
    rows[7] = (rows[7][0], "lots", rows[7][2])
    with pytest.raises(services.DatasetError, match="row 8 \\(line 9\\), column 转发数"):
        services.retrain(data_path=write_csv(tmp_path / "bad.csv", rows))
    assert services.active_version() == active
    assert ModelVersion.objects.count() == 1


def test_a_broken_active_model_does_not_block_a_good_replacement(db, linear_csv, artifact_root):
    active = services.retrain(data_path=linear_csv).version
    (artifact_root / active.artifact_name).write_bytes(b"tampered")
    registry.clear_loaded_models()  # as in a fresh `retrain` process

    report = services.retrain(data_path=linear_csv)

    assert "does not match the recorded sha256" in report.active_problem
    assert report.activated
