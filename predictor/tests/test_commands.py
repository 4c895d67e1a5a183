from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from predictor import services
from predictor.models import ModelVersion

from .conftest import linear_rows, write_csv


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_retrain_reports_rows_metrics_and_the_decision(db, linear_csv):
    output = run("retrain", "--data", str(linear_csv))

    assert "rows from the file: 40; blank 转发数 filled with 点赞数: 0" in output
    assert "rows used: 40" in output
    assert "点赞数 80.0000, 转发数 60.0000, intercept 1000.0000" in output
    assert "candidate (5-fold CV)" in output
    assert "no active model yet" in output
    assert "Quality gate: passed." in output
    assert "Model v1 stored and activated" in output
    assert services.active_version().number == 1


def test_retrain_compares_the_candidate_with_the_active_model(db, linear_csv):
    run("retrain", "--data", str(linear_csv))
    output = run("retrain", "--data", str(linear_csv))
    assert "active v1 (same data)" in output
    assert "Model v2 stored and activated" in output


def test_retrain_defaults_to_the_sample_in_data(db):
    output = run("retrain")
    version = services.active_version()
    assert settings.VIEWSITE_DEFAULT_DATA.name in output
    assert version.data_file_name == "wechat_articles_sample.csv"
    assert version.training_rows == 1500
    assert version.rows_filled > 0


def test_if_no_model_trains_only_the_first_time(db, linear_csv):
    run("retrain", "--if-no-model", "--data", str(linear_csv))
    output = run("retrain", "--if-no-model", "--data", str(linear_csv))
    assert "Model v1 is active; nothing to train." in output
    assert ModelVersion.objects.count() == 1


def test_dry_run_and_no_activate(db, linear_csv):
    assert "Dry run: nothing was stored" in run("retrain", "--dry-run", "--data", str(linear_csv))
    assert ModelVersion.objects.count() == 0
    run("retrain", "--data", str(linear_csv))
    assert "Model v2 stored, not activated" in run(
        "retrain", "--no-activate", "--data", str(linear_csv)
    )
    assert services.active_version().number == 1


def test_a_bad_file_fails_with_the_row_and_column_and_changes_nothing(db, linear_csv, tmp_path):
    run("retrain", "--data", str(linear_csv))
    rows = linear_rows()
    rows[2] = ("-4", *rows[2][1:])
    path = write_csv(tmp_path / "bad.csv", rows)

    with pytest.raises(
        CommandError, match=r"bad\.csv: row 3 \(line 4\), column 点赞数: '-4' is below"
    ):
        call_command("retrain", "--data", str(path), stdout=StringIO())
    assert services.active_version().number == 1


def test_a_failed_quality_gate_exits_non_zero_with_advice(db, linear_csv, settings):
    settings.VIEWSITE_MIN_R2 = 1.5
    out = StringIO()
    with pytest.raises(CommandError, match="pass --force"):
        call_command("retrain", "--data", str(linear_csv), stdout=out)
    assert "Quality gate: failed" in out.getvalue()
    assert ModelVersion.objects.count() == 0
    assert "Overridden by --force" in run("retrain", "--force", "--data", str(linear_csv))


def test_activate_rolls_back_by_label(db, linear_csv):
    run("retrain", "--data", str(linear_csv))
    run("retrain", "--data", str(linear_csv))
    assert "Model v1 is now active." in run("activate", "v1")
    assert services.active_version().number == 1


@pytest.mark.parametrize(
    ("label", "message"), [("v9", "no version v9"), ("latest", "not a version")]
)
def test_activate_refuses_unknown_versions(db, label, message):
    with pytest.raises(CommandError, match=message):
        call_command("activate", label)


def test_generate_sample_data_reproduces_the_shipped_file_byte_for_byte(tmp_path):
    output = tmp_path / "sample.csv"
    run("generate_sample_data", "--output", str(output))
    assert output.read_bytes() == settings.VIEWSITE_DEFAULT_DATA.read_bytes()
