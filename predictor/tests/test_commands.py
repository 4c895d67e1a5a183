import csv
import fcntl
import math
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from sklearn.model_selection import KFold, cross_validate

from predictor import services
from predictor.models import Activation, ModelVersion, Outcome
from predictor.services import audit_writes
from predictor.services.algorithms import ALGORITHMS
from predictor.services.predictors import EstimatorPredictor
from predictor.services.training import BEST_RULE, CV_FOLDS, CV_SEED

from .conftest import linear_rows, write_csv
from .test_outcomes import noisy_rows, predict, record, refuse


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def run_both(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_retrain_reports_rows_metrics_and_the_decision(db, linear_csv):
    output = run("retrain", "--data", str(linear_csv))

    assert "rows from the file: 40; blank 转发数 filled with 点赞数: 0" in output
    assert "rows used: 40" in output
    assert "点赞数 80, 转发数 60, intercept 1,000" in output
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
    [v1] = [line for line in lines if line.split()[:2] == ["*", "v1"]]
    [v2] = [line for line in lines if line.split()[:1] == ["v2"]]
    mae = sum(map(abs, errors)) / len(errors)
    rmse = math.sqrt(sum(e * e for e in errors) / len(errors))
    mape = sum(abs(e) / views for e, views in zip(errors, actual, strict=True)) / len(errors)
    assert v1.split()[-6:] == ["3", "2", f"{mae:,.0f}", f"{rmse:,.0f}", f"{mape:.1%}", "0.0%"]
    assert v2.split()[-6:] == ["0", "0", "-", "-", "-", "-"]
    assert "Recent activations:" in output
    assert "v1 (was v2) via activate command by -: v2 over-predicts" in output
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

    output, progress = run_both("retrain", "--compare", "--data", str(path))

    # Each algorithm's cross-validated R² and MAE, computed here on the same folds.
    inputs = np.array([row[:2] for row in rows], dtype=float)
    target = np.array([row[2] for row in rows], dtype=float)
    folds = KFold(n_splits=CV_FOLDS, shuffle=True, random_state=CV_SEED)
    scores = {
        name: cross_validate(
            a.build(), inputs, target, cv=folds, scoring=("r2", "neg_mean_absolute_error")
        )
        for name, a in ALGORITHMS.items()
    }
    r2 = {name: float(np.mean(score["test_r2"])) for name, score in scores.items()}
    mae = {
        name: -float(np.mean(score["test_neg_mean_absolute_error"]))
        for name, score in scores.items()
    }
    # The stated rule: R² as shown (3 decimals), then the lower MAE.
    best = min(ALGORITHMS, key=lambda name: (-round(r2[name], 3), round(mae[name])))
    rows_shown = {
        line[2:].split()[0]: line
        for line in output.splitlines()
        if line[:2] in ("* ", "  ") and line[2:].split() and line[2:].split()[0] in ALGORITHMS
    }
    assert set(rows_shown) == set(ALGORITHMS)
    for name, line in rows_shown.items():
        assert line.startswith("* " if name == best else "  ")
        assert line[2:].split()[1] == f"{r2[name]:.3f}"
    assert str(BEST_RULE) in output
    assert f"Best: {best} ({ALGORITHMS[best].summary}), cross-validated R² {r2[best]:.3f}" in (
        output
    )
    assert "Compared only: nothing was stored" in output
    assert ModelVersion.objects.count() == stored
    assert services.active_version().number == 1
    # Progress, one whole line per algorithm as it starts, on stderr only.
    assert progress.splitlines() == [
        f"Scoring {name} ({position} of {len(ALGORITHMS)})…"
        for position, name in enumerate(ALGORITHMS, start=1)
    ]
    assert "Scoring" not in output


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


# --- Standard output is the answer ----------------------------------------------------------------
# Each command run as a script runs it: in a process of its own, on a site of its own (a SQLite
# file), with the real logging configuration at INFO. Whatever the command logs must reach
# stderr, and stdout must hold the answer alone, in either language.

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


@dataclass
class Site:
    root: Path
    env: dict
    retrained: subprocess.CompletedProcess

    def run(self, *args, language="en") -> subprocess.CompletedProcess:
        return manage(*args, "--language", language, env=self.env)


def manage(*args, env) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def log_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if LOG_LINE.match(line)]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    root = tmp_path_factory.mktemp("site")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{root / 'db.sqlite3'}",
        "DJANGO_LOG_LEVEL": "INFO",
        "DJANGO_LOG_FORMAT": "text",
        "DJANGO_LANGUAGE_CODE": "en",
    }
    manage("migrate", "--noinput", "-v", "0", env=env)
    data = write_csv(root / "linear.csv", linear_rows())
    retrained = manage("retrain", "--data", data, env=env)
    return Site(root, env, retrained)


def test_retrain_answers_on_stdout_and_logs_on_stderr(site):
    assert log_lines(site.retrained.stdout) == []
    assert site.retrained.stdout.splitlines()[-1].startswith("Model v1 stored and activated (")
    logged = "\n".join(log_lines(site.retrained.stderr))
    assert "retrain candidate algorithm=linear" in logged
    assert "retrain stored version=v1 activated=True" in logged


@pytest.mark.parametrize(
    ("language", "answer"),
    [
        (
            "en",
            r"About 59,000 views \(59,000\); 9 times in 10 between 59,000 and 59,000\. "
            r"Model v1, record #\d+\.\n",
        ),
        (
            "zh-hans",
            r"约 59,000 次浏览（59,000）；10 次中有 9 次在 59,000 到 59,000 之间。"
            r"模型 v1，记录 #\d+。\n",
        ),
    ],
)
def test_predict_prints_its_answer_alone_and_logs_on_stderr(site, language, answer):
    result = site.run("predict", 500, 300, language=language)
    assert re.fullmatch(answer, result.stdout)
    assert "predictor ready version=v1" in "\n".join(log_lines(result.stderr))


@pytest.mark.parametrize(
    ("language", "answer"),
    [("en", "Model v1 is now active.\n"), ("zh-hans", "模型 v1 已启用。\n")],
)
def test_activate_prints_its_answer_alone_and_logs_on_stderr(site, language, answer):
    result = site.run("activate", "v1", language=language)
    assert result.stdout == answer
    assert "model activated version=v1" in "\n".join(log_lines(result.stderr))


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_file_seals_and_outcomes_print_their_answers_alone(site, language):
    """predict --csv, import_outcomes, seal_audit and verify_audit: each one's stdout is its
    summary, line by line, with every log line of the run on stderr."""
    source = write_csv(
        site.root / f"in-{language}.csv", [(1, 2), (3, 4)], header=("likes", "shares")
    )
    out = site.root / f"out-{language}.csv"
    predicted = site.run("predict", "--csv", source, "--out", out, language=language)
    with out.open(newline="", encoding="utf-8") as file:
        [first_id, _] = [row["record_id"] for row in csv.DictReader(file)]
    outcomes = write_csv(
        site.root / f"outcomes-{language}.csv", [(first_id, 500)], header=("prediction_id", "views")
    )
    imported = site.run("import_outcomes", outcomes, language=language)
    sealed = site.run("seal_audit", "--lag", "0", language=language)
    verified = site.run("verify_audit", language=language)

    english = language == "en"
    assert predicted.stdout.splitlines()[1:] == (
        ["  predicted: 2 (model v1: 2)", "  refused:   0", f"Wrote 2 rows to {out}."]
        if english
        else ["  已预测：2（模型 v1: 2）", "  已拒绝：0", f"已把 2 行写入 {out}。"]
    )
    assert imported.stdout == (
        f"{outcomes}: recorded 1 outcome(s) for 1 prediction(s).\n"
        if english
        else f"{outcomes}：已为 1 次预测记录 1 个真实结果。\n"
    )
    assert "outcomes recorded source=import count=1" in "\n".join(log_lines(imported.stderr))
    last = sealed.stdout.splitlines()[-1]
    assert re.fullmatch(
        r"Seal #\d+ stored \(json rows\), digest [0-9a-f]{64}\."
        if english
        else r"已保存封存 #\d+（json 行格式），摘要 [0-9a-f]{64}。",
        last,
    )
    assert "audit sealed" in "\n".join(log_lines(sealed.stderr))
    assert "VIEWSITE_AUDIT_SEAL_KEY" in sealed.stderr  # the warning is not part of the answer
    assert verified.stdout.splitlines()[-1].startswith(
        "Audit trail intact: " if english else "审计记录完好："
    )
    for result in (predicted, imported, sealed, verified):
        assert log_lines(result.stdout) == []


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_listing_and_key_commands_print_their_answers_alone(site, language):
    english = language == "en"
    models = site.run("models", language=language).stdout
    headings = {
        "en": "version algorithm CV R² CV MAE cover served outcomes live MAE live RMSE MAPE inside",
        "zh-hans": "版本 算法 交叉验证 R² 交叉验证平均绝对误差 覆盖率 已答复计数 真实结果数 "
        "实际平均绝对误差 实际均方根误差 MAPE 落在区间内",
    }
    assert models.splitlines()[0].split() == headings[language].split()
    assert models.splitlines()[1].split()[:3] == ["*", "v1", "linear"]
    assert site.run("sign_models", language=language).stdout == (
        "Every servable version is already signed by this key.\n"
        if english
        else "所有可用的版本都已经用这把密钥签过名。\n"
    )
    keys = site.run("make_signing_key", language=language)
    assert [line.split("=")[0] for line in keys.stdout.splitlines()] == [
        "VIEWSITE_ARTIFACT_SIGNING_KEY",
        "VIEWSITE_ARTIFACT_VERIFY_KEYS",
    ]
    assert ("The first line is a secret" if english else "第一行是私钥") in keys.stderr
    sample = site.root / f"sample-{language}.csv"
    assert site.run(
        "generate_sample_data", "--output", sample, "--rows", 5, language=language
    ).stdout == (
        f"Wrote 5 rows to {sample} (seed 20240601).\n"
        if english
        else f"已把 5 行写入 {sample}（随机种子 20240601）。\n"
    )
    for result in (models, keys.stdout):
        assert log_lines(result) == []


def test_retrain_compare_prints_the_table_and_shows_progress_on_stderr(site):
    result = site.run(
        "retrain", "--compare", "--data", site.root / "linear.csv", language="zh-hans"
    )
    assert log_lines(result.stdout) == []
    assert "正在评估" not in result.stdout
    assert [line for line in result.stderr.splitlines() if not LOG_LINE.match(line)] == [
        f"正在评估 {name}（第 {position} 个，共 {len(ALGORITHMS)} 个）……"
        for position, name in enumerate(ALGORITHMS, start=1)
    ]
    assert "“最佳”的规则：交叉验证 R² 保留 3 位小数后最高者胜" in result.stdout


def test_listing_and_key_commands_in_chinese(active_model, tmp_path, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    models = run("models").splitlines()
    assert models[0].split()[:3] == ["版本", "算法", "交叉验证"]
    assert models[1].split()[:3] == ["*", "v1", "linear"]
    assert models[2].startswith("* 为正在使用的版本。")
    assert "最近的启用记录：" in models
    assert run("sign_models") == "所有可用的版本都已经用这把密钥签过名。\n"
    keys, note = run_both("make_signing_key")
    assert [line.split("=")[0] for line in keys.splitlines()] == [
        "VIEWSITE_ARTIFACT_SIGNING_KEY",
        "VIEWSITE_ARTIFACT_VERIFY_KEYS",
    ]
    assert note.startswith("第一行是私钥")
    sample = tmp_path / "sample.csv"
    assert run("generate_sample_data", "--output", str(sample), "--rows", "5") == (
        f"已把 5 行写入 {sample}（随机种子 20240601）。\n"
    )
    assert run("activate", "v1") == "模型 v1 已启用。\n"


def test_predict_csv_on_a_terminal_writes_log_lines_above_the_bar_never_inside_it(site):
    """The progress bar redraws one line with carriage returns; a log line written into it
    would land in the middle of a frame ("in.csv: 0%|   | 2026-12-07 ... INFO ..."). On a
    terminal each log line must start a line of its own, the bar drawn again below it."""
    rows = [(i % 5000, (7 * i) % 5000) for i in range(6000)]
    source = write_csv(site.root / "terminal.csv", rows, header=("likes", "shares"))
    out = site.root / "terminal-out.csv"
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "predict"]
    with subprocess.Popen(
        [*command, "--csv", str(source), "--out", str(out), "--chunk-size", "1000"],
        env=site.env,
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
    ) as process:
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the command is done
                break
            if not chunk:
                break
            shown += chunk
        stdout = process.stdout.read()
    os.close(controller)
    assert process.returncode == 0

    screen = shown.decode()
    assert "terminal.csv:" in screen
    assert "100%" in screen
    lines_with_logs = [line for line in screen.split("\n") if " INFO " in line]
    assert lines_with_logs  # the first chunk loads the model, and says so
    for line in lines_with_logs:
        # What a terminal shows of the line: the text after its last carriage return.
        assert LOG_LINE.match(line.rstrip("\r").split("\r")[-1]), repr(line)
    assert log_lines(stdout) == []
    assert "%|" not in stdout
    assert stdout.splitlines()[-1] == f"Wrote 6,000 rows to {out}."


def test_retrain_reports_in_chinese(db, linear_csv, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    output = run("retrain", "--data", str(linear_csv))
    version = services.active_version()
    sha = version.artifact_sha256[:12]
    lines = output.splitlines()
    assert lines[:4] == [
        f"数据：linear.csv（sha256 {version.data_sha256[:12]}…）",
        "  来自文件的行：40；转发数为空、用点赞数补上的行：0",
        "  使用的行数：40",
        "模型：linear，sklearn.linear_model.LinearRegression：点赞数 80，转发数 60，截距 1,000",
    ]
    assert lines[6].split() == ["新模型（5", "折交叉验证）", "1.0000", "0", "0"]
    assert lines[7] == "  还没有正在使用的模型"
    assert lines[-2:] == [
        "质量检查：通过。",
        f"模型 v1 已保存并启用（模型文件 {version.artifact_name}，sha256 {sha}…）。",
    ]
