import math
from io import StringIO

import numpy as np
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from sklearn.model_selection import KFold, cross_val_score

from predictor import services
from predictor.models import Activation, ModelVersion, Outcome
from predictor.services import audit_writes
from predictor.services.algorithms import ALGORITHMS
from predictor.services.predictors import EstimatorPredictor
from predictor.services.training import CV_FOLDS, CV_SEED

from .conftest import linear_rows, write_csv
from .test_outcomes import noisy_rows, predict, record, refuse


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

    with pytest.raises(CommandError) as refused:
        call_command("retrain", "--data", str(path), stdout=StringIO())
    assert str(refused.value) == (
        f"The data file was refused: {path}: line 4, column 点赞数 (likes): Ensure this value is "
        "greater than or equal to 0."
    )
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


# --- activate --reason, and the activation history ----------------------------------------------


def test_activate_records_who_what_and_why_in_the_history(db, linear_csv):
    run("retrain", "--data", str(linear_csv))
    run("retrain", "--data", str(linear_csv))

    run("activate", "v1", "--reason", "v2 over-predicts since the redesign")

    latest = Activation.objects.first()
    assert (latest.version.number, latest.previous.number, latest.door) == (1, 2, "command")
    assert (latest.reason, latest.user) == ("v2 over-predicts since the redesign", None)
    assert Activation.objects.count() == 3  # two retrains, one rollback


# --- import_outcomes ----------------------------------------------------------------------------


def run_both(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_outcomes_records_a_file_with_a_chinese_header_and_says_how_many(
    active_model, tmp_path
):
    first, second = predict((500, 300), (20, 10))
    path = write_csv(
        tmp_path / "outcomes.csv",
        [(first.pk, 58000), (second.pk, "3,100"), (first.pk, 61000)],
        header=("预测编号", "浏览量"),
    )

    output, errors = run_both("import_outcomes", str(path))

    assert f"{path}: recorded 3 outcome(s) for 2 prediction(s)." in output
    assert errors == ""
    assert sorted(Outcome.objects.values_list("prediction", "views", "source", "note")) == sorted(
        [
            (first.pk, 58000, "import", "import_outcomes outcomes.csv"),
            (second.pk, 3100, "import", "import_outcomes outcomes.csv"),
            (first.pk, 61000, "import", "import_outcomes outcomes.csv"),
        ]
    )
    # The later line is the one in force.
    in_force = dict(Outcome.objects.latest_per_prediction().values_list("prediction", "views"))
    assert in_force == {first.pk: 61000, second.pk: 3100}


def test_import_outcomes_writes_a_file_of_several_chunks_in_line_order(
    active_model, tmp_path, monkeypatch
):
    """The audit writer takes 4 outcomes at a time: ids follow the file's lines, so the later
    line of one prediction is the one in force."""
    monkeypatch.setattr(audit_writes, "WRITE_CHUNK", 4)
    predictions = predict(*[(10 * i, i) for i in range(1, 8)])
    lines = [(prediction.pk, 1000 + n) for n, prediction in enumerate(predictions * 2)]
    path = write_csv(tmp_path / "outcomes.csv", lines, header=("prediction_id", "views"))

    output, _ = run_both("import_outcomes", str(path))

    assert f"recorded {len(lines)} outcome(s) for 7 prediction(s)." in output
    assert list(Outcome.objects.order_by("pk").values_list("prediction", "views")) == lines
    in_force = dict(Outcome.objects.latest_per_prediction().values_list("prediction", "views"))
    assert in_force == dict(lines[7:])


def test_import_outcomes_reports_every_bad_line_by_number_and_records_nothing(
    active_model, tmp_path
):
    [good] = predict((500, 300))
    refused = refuse()
    path = write_csv(
        tmp_path / "outcomes.csv",
        [(good.pk, 58000), (good.pk, "-5"), (refused.pk + 99, 10), (refused.pk, 10), (good.pk, 1)],
        header=("prediction_id", "views"),
    )
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match=r"3 bad line\(s\) in .*nothing was recorded"):
        call_command("import_outcomes", str(path), stdout=out, stderr=err)

    lines = err.getvalue().splitlines()
    assert lines == [
        f"{path}: line 3, column 浏览量 (views): Ensure this value is greater than or equal to 0.",
        f"{path}: line 4: there is no prediction #{refused.pk + 99}",
        f"{path}: line 5: prediction #{refused.pk} was refused, so it has no answer to compare "
        "with",
    ]
    assert "recorded" not in out.getvalue()
    assert not Outcome.objects.exists()


def test_import_outcomes_refuses_a_file_without_the_columns(db, linear_csv):
    err = StringIO()
    with pytest.raises(CommandError, match="1 bad line"):
        call_command("import_outcomes", str(linear_csv), stdout=StringIO(), stderr=err)
    assert err.getvalue().startswith(
        f"{linear_csv}: line 1: Unknown column(s) in the header: 点赞数, 转发数."
    )


def test_import_outcomes_dry_run_checks_and_records_nothing(active_model, tmp_path):
    [prediction] = predict((500, 300))
    good = write_csv(tmp_path / "good.csv", [(prediction.pk, 58000)], header=("编号", "浏览量"))
    bad = write_csv(tmp_path / "bad.csv", [(prediction.pk, "x")], header=("编号", "浏览量"))

    output, _ = run_both("import_outcomes", "--dry-run", str(good))
    assert f"{good}: would record 1 outcome(s) for 1 prediction(s)." in output
    with pytest.raises(CommandError, match="1 bad line"):
        run_both("import_outcomes", "--dry-run", str(bad))
    assert not Outcome.objects.exists()


# --- models -------------------------------------------------------------------------------------


def test_models_lists_versions_the_active_one_live_error_and_recent_activations(
    db, linear_csv, settings
):
    run("retrain", "--data", str(linear_csv))
    run("retrain", "--data", str(linear_csv))
    run("activate", "v1", "--reason", "v2 over-predicts")
    answered = predict((500, 300), (20, 10), (7, 7))
    actual = [60000, 3500]
    for prediction, views in zip(answered, actual, strict=False):
        record(prediction.pk, views)
    errors = [views - p.views for p, views in zip(answered, actual, strict=False)]

    output = run("models")

    lines = output.splitlines()
    [v1] = [line for line in lines if line.startswith("* v1 ")]
    [v2] = [line for line in lines if line.startswith("  v2 ")]
    mae = sum(map(abs, errors)) / len(errors)
    rmse = math.sqrt(sum(e * e for e in errors) / len(errors))
    mape = sum(abs(e) / views for e, views in zip(errors, actual, strict=True)) / len(errors)
    assert v1.split()[-6:] == ["3", "2", f"{mae:,.0f}", f"{rmse:,.0f}", f"{mape:.1%}", "0.0%"]
    assert v2.split()[-6:] == ["0", "0", "-", "-", "-", "-"]
    assert "Recent activations:" in output
    assert "v1 (was v2) via command by -: v2 over-predicts" in output
    assert (
        "v2 (was v1) via retrain by -: Retrained on linear.csv (linear regression), switched on "
        "automatically"
    ) in output
    assert "⚠" not in output

    settings.VIEWSITE_LIVE_MIN_OUTCOMES = 2
    settings.VIEWSITE_LIVE_ERROR_RATIO = 1.5
    flagged = run("models")
    assert (
        f"⚠ v1: on 2 reported real view counts its typical miss is {mae:,.0f} views, more than "
        "1.5 times the"
    ) in flagged
    assert "⚠ v2" not in flagged


def test_models_says_what_to_do_without_any_version(db):
    assert "No model version yet. Run `manage.py retrain`." in run("models")


# --- retrain: algorithms and outcomes -----------------------------------------------------------


def test_retrain_compare_scores_every_algorithm_marks_the_best_and_stores_nothing(db, tmp_path):
    rows = noisy_rows()
    path = write_csv(tmp_path / "noisy.csv", rows)
    run("retrain", "--data", str(write_csv(tmp_path / "linear.csv", linear_rows())))
    stored = ModelVersion.objects.count()

    output = run("retrain", "--compare", "--data", str(path))

    # The cross-validated R² of each algorithm, computed here on the same folds.
    inputs = np.array([row[:2] for row in rows], dtype=float)
    target = np.array([row[2] for row in rows], dtype=float)
    folds = KFold(n_splits=CV_FOLDS, shuffle=True, random_state=CV_SEED)
    r2 = {
        name: float(np.mean(cross_val_score(a.build(), inputs, target, cv=folds, scoring="r2")))
        for name, a in ALGORITHMS.items()
    }
    best = max(r2, key=r2.get)
    rows_shown = {
        line[2:].split()[0]: line
        for line in output.splitlines()
        if line[:2] in ("* ", "  ") and line[2:].split() and line[2:].split()[0] in ALGORITHMS
    }
    assert set(rows_shown) == set(ALGORITHMS)
    for name, line in rows_shown.items():
        assert line.startswith("* " if name == best else "  ")
        assert line.split()[-6] == f"{r2[name]:.4f}"
    assert f"Best: {best} ({ALGORITHMS[best].summary}), cross-validated R² {r2[best]:.4f}." in (
        output
    )
    assert "Compared only: nothing was stored" in output
    assert ModelVersion.objects.count() == stored
    assert services.active_version().number == 1


def test_retrain_hist_gb_stores_a_version_served_through_scikit_learn(db, tmp_path):
    path = write_csv(tmp_path / "noisy.csv", noisy_rows())

    output = run("retrain", "--algorithm", "hist-gb", "--data", str(path))

    version = services.active_version()
    assert "Model: hist-gb, sklearn.ensemble.HistGradientBoostingRegressor" in output
    assert f"Model {version.label} stored and activated" in output
    assert (version.number, version.algorithm_name, version.serving_name) == (1, "hist-gb", "")
    assert version.parameters["iterations"] > 0
    predictor = services.load_predictor(version)
    assert isinstance(predictor, EstimatorPredictor)
    [record_] = predict((500, 300))
    [expected] = services.load_model(version).predict(np.array([[500.0, 300.0]]))
    assert record_.model_version == version
    assert record_.views == round(float(expected), 2)
    assert record_.views_lower < record_.views < record_.views_upper


def test_retrain_can_learn_from_recorded_outcomes(active_model, linear_csv):
    with pytest.raises(CommandError, match="no prediction has a recorded outcome yet"):
        run("retrain", "--include-outcomes", "--data", str(linear_csv))
    first, second = predict((500, 300), (20, 10))
    record(first.pk, 1)
    record(second.pk, 2)
    newest = record(first.pk, 59000)

    output = run("retrain", "--include-outcomes", "--no-activate", "--data", str(linear_csv))

    assert "rows from recorded outcomes: 2 (answered predictions with" in output
    assert f"outcomes up to #{newest.pk})" in output
    assert "rows used: 42" in output
    assert ModelVersion.objects.get(number=2).training_rows == 42
