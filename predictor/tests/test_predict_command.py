"""`manage.py predict`: the command-line door, for one article or a CSV file of any size."""

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from predictor.display import about, count
from predictor.models import Channel, PredictionRequest
from predictor.services import audit_writes

from .conftest import ABOVE_RANGE, BELOW_RANGE, INSIDE_RANGE, exact_views, write_csv

RESULT_COLUMNS = [
    "views",
    "views_lower",
    "views_upper",
    "interval_coverage",
    "model_version",
    "record_id",
    "error",
    "extrapolated",
]


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("predict", *[str(arg) for arg in args], stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def read_output(path: Path, encoding="utf-8") -> list[dict]:
    with path.open(newline="", encoding=encoding) as file:
        return list(csv.DictReader(file))


def write_lines(path: Path, text: str, encoding="utf-8") -> Path:
    path.write_text(text, encoding=encoding, newline="")
    return path


@pytest.fixture
def noisy_model(db, noisy_csv, trained_models):
    """A model whose interval has a width (the `active_model` data fit exactly)."""
    return trained_models.store(noisy_csv)


# One article ---------------------------------------------------------------------------------


def test_one_prediction_prints_views_the_interval_in_words_and_the_version(noisy_model):
    out, _ = run(500, 300)

    record = PredictionRequest.objects.get()
    assert record.accepted
    assert (record.likes, record.shares) == (500, 300)
    assert record.channel == Channel.CLI
    assert record.raw_input == {"likes": "500", "shares": "300"}
    assert record.views_lower < record.views < record.views_upper
    assert out == (
        f"About {about(record.views)} views ({count(record.views)}); 9 times in 10 between "
        f"{about(record.views_lower)} and {about(record.views_upper)}. "
        f"Model v{noisy_model.number}, record #{record.pk}.\n"
    )


def test_one_prediction_gives_the_exact_answer_of_a_known_model(active_model):
    out, _ = run(500, 300)
    assert exact_views(500, 300) == 59_000
    assert out.startswith("About 59,000 views (59,000); 9 times in 10 between ")
    assert "Model v1, record #" in out


def test_one_prediction_accepts_spaces_and_thousands_separators(active_model):
    run(" 1,200 ", "1，500")
    record = PredictionRequest.objects.get()
    assert (record.likes, record.shares) == (1200, 1500)
    assert record.views == pytest.approx(exact_views(1200, 1500))
    assert record.raw_input == {"likes": " 1,200 ", "shares": "1，500"}


@pytest.mark.parametrize(
    ("likes", "shares", "message"),
    [
        ("20001", "3", r"^Refused: likes: Ensure this value is less than or equal to 20,000\.$"),
        (
            "5",
            "-1",
            r"^Refused: shares: Ensure this value is greater than or equal to 0",
        ),
        (
            "1,2",
            "3",
            r"^Refused: likes: “1,2” is not a whole number: a comma separates "
            r"thousands \(1,500\), not decimals\.$",
        ),
        (
            "2.5",
            "3",
            r"^Refused: likes: “2.5” is not a whole number: a count has no fraction "
            r"or decimal point\.$",
        ),
        ("5", None, r"^Refused: shares: This field is required\.$"),
    ],
)
def test_a_bad_input_is_a_plain_command_error_and_is_audited_as_refused(
    active_model, likes, shares, message
):
    args = [likes] if shares is None else [likes, shares]
    with pytest.raises(CommandError, match=message):
        run(*args)
    record = PredictionRequest.objects.get()
    assert not record.accepted
    assert record.channel == Channel.CLI
    assert record.views is None
    assert record.raw_input["likes"] == likes
    assert record.errors


def test_one_prediction_without_a_model_is_a_command_error_and_is_audited(db):
    with pytest.raises(CommandError, match="No model is active yet"):
        run(500, 300)
    record = PredictionRequest.objects.get()
    assert (record.accepted, record.channel) == (False, Channel.CLI)
    assert record.errors == {"model": [{"code": "no_active_model", "params": {}}]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Nothing to predict"),
        (["500", "300", "--csv", "in.csv", "--out", "out.csv"], "not both"),
        (["--csv", "in.csv"], "--csv needs --out"),
        (["--csv", "in.csv", "--out", "o.csv", "--chunk-size", "0"], "--chunk-size must be"),
    ],
)
def test_a_wrong_call_says_how_to_call_it(db, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not PredictionRequest.objects.exists()


# A file --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", [("点赞数", "转发数"), ("likes", "shares"), (" Shares ", "LIKES")]
)
def test_a_file_is_written_row_by_row_with_views_interval_version_and_record_id(
    active_model, tmp_path, header
):
    pairs = [(100 + 7 * i, 40 + 3 * i) for i in range(12)]
    rows = pairs if header[0] != " Shares " else [(s, k) for k, s in pairs]
    source = write_csv(tmp_path / "in.csv", rows, header=header)
    out = tmp_path / "out.csv"

    run("--csv", source, "--out", out)

    output = read_output(out)
    assert list(output[0]) == ["line", *header, *RESULT_COLUMNS]
    assert len(output) == len(pairs)
    records = PredictionRequest.objects.in_bulk([int(row["record_id"]) for row in output])
    for line, ((likes, shares), row) in enumerate(zip(pairs, output, strict=True), start=2):
        record = records[int(row["record_id"])]
        assert row["line"] == str(line)
        assert (record.likes, record.shares, record.channel) == (likes, shares, Channel.CLI)
        assert float(row["views"]) == pytest.approx(exact_views(likes, shares)) == record.views
        assert float(row["views_lower"]) == record.views_lower
        assert float(row["views_upper"]) == record.views_upper
        assert row["interval_coverage"] == "0.9"
        assert row["model_version"] == "v1"
        assert row["error"] == ""
        assert row["extrapolated"] == ("true" if record.extrapolated else "false")
        assert record.raw_input == {
            "file": "in.csv",
            "line": line,
            header[0]: str(rows[line - 2][0]),
            header[1]: str(rows[line - 2][1]),
        }
    assert not (tmp_path / "out.csv.partial").exists()


def test_the_interval_of_a_noisy_model_is_in_the_output(noisy_model, tmp_path):
    source = write_csv(tmp_path / "in.csv", [(500, 300), (2000, 100)], header=("likes", "shares"))
    run("--csv", source, "--out", tmp_path / "out.csv")
    for row in read_output(tmp_path / "out.csv"):
        assert float(row["views_lower"]) < float(row["views"]) < float(row["views_upper"])


def test_a_file_with_a_byte_order_mark_is_read_and_the_output_keeps_it(active_model, tmp_path):
    source = write_csv(
        tmp_path / "in.csv", [(500, 300)], header=("点赞数", "转发数"), encoding="utf-8-sig"
    )
    out = tmp_path / "out.csv"
    run("--csv", source, "--out", out)
    assert out.read_bytes().startswith("\ufeffline,点赞数,转发数,views".encode())
    [row] = read_output(out, encoding="utf-8-sig")
    assert float(row["views"]) == exact_views(500, 300)


def test_bad_rows_are_written_with_their_line_and_error_and_audited_none_dropped(
    active_model, tmp_path
):
    source = write_lines(
        tmp_path / "in.csv",
        "点赞数,转发数\n"
        "500,300\n"  # line 2
        "x,5\n"  # 3
        "\n"  # 4: blank, counted, not a row
        '"1,200", 20 \n'  # 5: a quoted thousands separator and spaces
        "1,2,3\n"  # 6
        "-1,30001\n"  # 7
        "7\n"  # 8
        ",\n"  # 9: empty cells, as a spreadsheet saves an empty row: blank too
        "12.5,3\n"  # 10
        "600,400\n",  # 11
    )
    out = tmp_path / "out.csv"

    stdout, stderr = run("--csv", source, "--out", out, "--chunk-size", 3)

    output = read_output(out)
    assert [row["line"] for row in output] == ["2", "3", "5", "6", "7", "8", "10", "11"]
    errors = {row["line"]: row["error"] for row in output}
    assert errors["2"] == errors["5"] == errors["11"] == ""
    assert errors["3"] == "likes: “x” is not a whole number."
    assert errors["6"] == "The line has 3 cell(s); expected 2 (点赞数, 转发数)."
    assert errors["7"] == (
        "likes: Ensure this value is greater than or equal to 0. "
        "shares: Ensure this value is less than or equal to 20,000."
    )
    assert errors["8"] == "The line has 1 cell(s); expected 2 (点赞数, 转发数)."
    assert errors["10"] == (
        "likes: “12.5” is not a whole number: a count has no fraction or decimal point."
    )
    by_line = {row["line"]: row for row in output}
    assert float(by_line["5"]["views"]) == exact_views(1200, 20)
    assert (by_line["6"]["点赞数"], by_line["6"]["转发数"]) == ("1", "2")

    # Every row, answered or refused, has its own audit row, with the file and the line.
    records = PredictionRequest.objects.in_bulk([int(row["record_id"]) for row in output])
    assert len(records) == len(output) == PredictionRequest.objects.count()
    for row in output:
        record = records[int(row["record_id"])]
        assert record.channel == Channel.CLI
        assert record.accepted == (row["error"] == "")
        assert record.raw_input["line"] == int(row["line"])
        assert record.raw_input["file"] == "in.csv"
    assert records[int(by_line["6"]["record_id"])].raw_input["cells"] == ["1", "2", "3"]
    assert records[int(by_line["3"]["record_id"])].errors == {
        "likes": [{"code": "not_a_number", "params": {"value": "x"}}]
    }
    assert records[int(by_line["6"]["record_id"])].errors == {
        "row": [
            {"code": "cells", "params": {"count": 3, "expected": 2, "columns": "点赞数, 转发数"}}
        ]
    }

    for line in ("3", "6", "7", "8", "10"):
        assert f"line {line}: " in stderr
    assert "line 9: " not in stderr
    assert "Read 8 rows from " in stdout
    assert "  predicted: 3 (model v1: 3)" in stdout
    assert "  refused:   5 (each in the output with its line and error)" in stdout
    assert "  blank lines skipped: 2" in stdout
    assert f"Wrote 8 rows to {out}." in stdout


def test_each_chunk_is_one_batch_and_nothing_is_dropped_across_chunks(active_model, tmp_path):
    rows = [(i % 20_000, (7 * i) % 20_000) for i in range(1, 1_001)]
    rows[500] = (20_001, 5)
    source = write_csv(tmp_path / "in.csv", rows, header=("likes", "shares"))
    out = tmp_path / "out.csv"

    stdout, _ = run("--csv", source, "--out", out, "--chunk-size", 300)

    output = read_output(out)
    assert len(output) == len(rows)
    assert [int(row["line"]) for row in output] == list(range(2, 1_002))
    assert [(int(row["likes"]), int(row["shares"])) for row in output] == rows
    assert output[500]["error"].startswith("likes: Ensure this value is less than")
    answered = PredictionRequest.objects.filter(accepted=True)
    # 1,000 rows in chunks of 300: four model calls, each one batch.
    assert answered.values("batch_id").distinct().count() == 4
    assert answered.count() == 999
    assert PredictionRequest.objects.filter(accepted=False).count() == 1
    assert not PredictionRequest.objects.exclude(channel=Channel.CLI).exists()
    assert "rows/s)" in stdout
    assert "Read 1,000 rows" in stdout


def test_each_output_rows_record_id_names_its_own_audit_row_across_chunks(
    active_model, tmp_path, monkeypatch
):
    """Chunks of 4 rows, each written by the audit writer 3 rows at a time, with bad rows at a
    chunk's start, middle and end: every row's record id is the audit row of that very row."""
    monkeypatch.setattr(audit_writes, "WRITE_CHUNK", 3)
    rows = [(str(10 * i), str(i)) for i in range(1, 24)]
    for index in (0, 5, 7, 8, 9, 22):
        rows[index] = ("many", rows[index][1])
    source = write_csv(tmp_path / "in.csv", rows, header=("likes", "shares"))
    out = tmp_path / "out.csv"

    run("--csv", source, "--out", out, "--chunk-size", 4)

    output = read_output(out)
    assert [(row["likes"], row["shares"]) for row in output] == rows
    records = PredictionRequest.objects.in_bulk([int(row["record_id"]) for row in output])
    assert len(records) == len(rows) == PredictionRequest.objects.count()
    for line, row in enumerate(output, start=2):
        record = records[int(row["record_id"])]
        assert record.raw_input == {
            "file": "in.csv",
            "line": line,
            **dict(zip(("likes", "shares"), (row["likes"], row["shares"]), strict=True)),
        }
        if row["likes"] == "many":
            assert not record.accepted
            assert record.errors["likes"][0]["code"] == "not_a_number"
        else:
            assert (record.likes, record.shares) == (int(row["likes"]), int(row["shares"]))
            assert record.views == float(row["views"]) == exact_views(record.likes, record.shares)


def test_the_summary_reports_rows_time_rate_and_output_path(active_model, tmp_path):
    source = write_csv(tmp_path / "in.csv", [(1, 2), (3, 4)], header=("likes", "shares"))
    out = tmp_path / "out.csv"
    stdout, stderr = run("--csv", source, "--out", out)
    lines = stdout.splitlines()
    assert lines[0].startswith(f"Read 2 rows from {source} in ")
    assert lines[0].endswith(" rows/s).")
    assert lines[1:] == [
        "  predicted: 2 (model v1: 2)",
        "  refused:   0",
        f"Wrote 2 rows to {out}.",
    ]
    assert stderr == ""  # no terminal, so no progress bar


def test_quiet_writes_the_file_and_says_nothing(active_model, tmp_path):
    source = write_csv(tmp_path / "in.csv", [(1, 2), ("x", 4)], header=("likes", "shares"))
    out = tmp_path / "out.csv"
    assert run("--csv", source, "--out", out, "--verbosity", 0) == ("", "")
    assert len(read_output(out)) == 2


@pytest.mark.parametrize(
    "header", ["点赞数,转发数,浏览量", "likes,shares,views", "views,likes,shares"]
)
def test_a_views_column_is_refused_with_the_reason_and_audited(active_model, tmp_path, header):
    source = write_lines(tmp_path / "in.csv", f"{header}\n500,300,46000\n")
    out = tmp_path / "out.csv"
    with pytest.raises(CommandError) as raised:
        run("--csv", source, "--out", out)
    assert str(raised.value) == (
        f"{source}: line 1: The header has 浏览量 (views), which this file does not take: views "
        "are what this command predicts; to train on real views use `retrain --data`, to record "
        "them use `import_outcomes`. Nothing was predicted."
    )
    assert not out.exists()
    record = PredictionRequest.objects.get()
    assert (record.accepted, record.channel) == (False, Channel.CLI)
    assert record.raw_input == {"file": "in.csv", "header": header.split(",")}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r": The file is empty; expected the header 点赞数,转发数 \(or likes,shares\)"),
        ("likes\n5\n", r": line 1: The header has no column 转发数 \(shares\); it has likes\."),
        (
            "likes,likes,shares\n1,2,3\n",
            r": line 1: The header has the column 点赞数 \(likes\) more than once",
        ),
        (
            "500,300\n1,2\n",
            r": line 1: Unknown column\(s\) in the header: 500, 300\. Only 点赞数 \(likes\), "
            r"转发数 \(shares\) are accepted\.",
        ),
    ],
)
def test_a_file_without_the_columns_is_refused_before_any_row(
    active_model, tmp_path, text, message
):
    source = write_lines(tmp_path / "in.csv", text)
    with pytest.raises(CommandError, match=message):
        run("--csv", source, "--out", tmp_path / "out.csv")
    assert PredictionRequest.objects.get().accepted is False


def test_a_file_that_is_not_utf8_says_how_to_save_it(active_model, tmp_path):
    source = write_lines(tmp_path / "in.csv", "点赞数,转发数\n1,2\n", encoding="gbk")
    with pytest.raises(CommandError, match=r"not UTF-8 text.*Save the file as UTF-8"):
        run("--csv", source, "--out", tmp_path / "out.csv")


def test_a_file_without_a_model_is_refused_and_audited_and_the_partial_output_kept(db, tmp_path):
    source = write_csv(tmp_path / "in.csv", [(1, 2), ("x", 3), (4, 5)], header=("likes", "shares"))
    out = tmp_path / "out.csv"
    with pytest.raises(CommandError, match=r"No model is active yet.*Lines 2 to 4 were audited"):
        run("--csv", source, "--out", out)
    assert not out.exists()
    partial = read_output(tmp_path / "out.csv.partial")
    assert partial[0]["error"].startswith("No model is active yet.")
    assert partial[1]["error"] == "likes: “x” is not a whole number."
    assert partial[2]["error"] == partial[0]["error"]
    assert [row["record_id"] for row in partial][::2] == ["", ""]
    refused = PredictionRequest.objects.all()
    assert len(refused) == 3
    assert {(record.accepted, record.channel) for record in refused} == {(False, Channel.CLI)}


def test_a_missing_file_and_the_input_as_output_are_refused(active_model, tmp_path):
    with pytest.raises(CommandError, match="cannot be read"):
        run("--csv", tmp_path / "nope.csv", "--out", tmp_path / "out.csv")
    source = write_csv(tmp_path / "in.csv", [(1, 2)], header=("likes", "shares"))
    with pytest.raises(CommandError, match="--out is the input file"):
        run("--csv", source, "--out", source)
    assert not PredictionRequest.objects.exists()


def test_the_command_answers_in_django_language_code_or_the_language_asked(active_model, settings):
    """One language per answer, DJANGO_LANGUAGE_CODE's unless --language names the other,
    whatever language happens to be active in the process that calls the command."""
    settings.LANGUAGE_CODE = "zh-hans"
    with translation.override("en"):
        chinese, _ = run(500, 300)
    english, _ = run(500, 300, "--language", "en")

    first, second = PredictionRequest.objects.order_by("pk")
    assert chinese == (
        f"约 59,000 次浏览（59,000）；10 次中有 9 次在 59,000 到 59,000 之间。模型 v1，"
        f"记录 #{first.pk}。\n"
    )
    assert english == (
        "About 59,000 views (59,000); 9 times in 10 between 59,000 and 59,000. Model v1, "
        f"record #{second.pk}.\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("x", "300"), "无法预测：点赞数：“x”不是整数。"),
        (("-5", "x"), "无法预测：点赞数：确保该值大于或等于0。 转发数：“x”不是整数。"),
        (("5",), "无法预测：转发数：该字段是必填项。"),
        # The bound as the form's hint writes it, grouped; stored as the number it is.
        (("25000", "3"), "无法预测：点赞数：确保该值小于或等于20,000。"),
    ],
)
def test_a_refusal_in_chinese_is_all_chinese_and_stored_as_codes(
    active_model, settings, args, message
):
    """Not "点赞数 (likes): Ensure this value is greater than or equal to 0": the field is named
    by its word in the reader's language, and the reason is in that language too."""
    settings.LANGUAGE_CODE = "zh-hans"
    with pytest.raises(CommandError) as raised:
        run(*args)
    assert str(raised.value) == message
    record = PredictionRequest.objects.get()
    assert all("code" in error for errors in record.errors.values() for error in errors)
    if args[0] == "25000":
        assert record.errors == {"likes": [{"code": "max_value", "params": {"limit_value": 20000}}]}


def test_a_file_in_chinese_keeps_its_columns_and_writes_its_errors_in_chinese(
    active_model, tmp_path, settings
):
    """The CSV columns are for programs and keep their names; the error column and the summary
    are for people and are in the reader's language."""
    source = write_csv(
        tmp_path / "in.csv", [(1, 2), ("x", 1), (1, 25000)], header=("likes", "shares")
    )
    settings.LANGUAGE_CODE = "zh-hans"
    stdout, _ = run("--csv", source, "--out", tmp_path / "zh.csv")
    english_out, _ = run("--csv", source, "--out", tmp_path / "en.csv", "--language", "en")

    zh, en = read_output(tmp_path / "zh.csv"), read_output(tmp_path / "en.csv")
    assert list(zh[0]) == list(en[0]) == ["line", "likes", "shares", *RESULT_COLUMNS]
    assert zh[1]["error"] == "点赞数：“x”不是整数。"
    assert en[1]["error"] == "likes: “x” is not a whole number."
    # The bound as the form's hint writes it, in both languages; the input cell as it was read.
    assert zh[2]["error"] == "转发数：确保该值小于或等于20,000。"
    assert en[2]["error"] == "shares: Ensure this value is less than or equal to 20,000."
    assert zh[2]["shares"] == en[2]["shares"] == "25000"
    assert stdout.splitlines()[1:] == [
        "  已预测：1（模型 v1: 1）",
        "  已拒绝：2（每一行都在输出文件里，附行号和原因）",
        f"已把 3 行写入 {tmp_path / 'zh.csv'}。",
    ]
    assert stdout.startswith(f"从 {source} 读取了 3 行，用时 ")
    assert english_out.startswith(f"Read 3 rows from {source} in ")


# An answer honest about itself (issue 22) ------------------------------------------------------


def test_one_prediction_outside_the_range_is_zero_at_least_and_says_so(below_zero_model):
    out, _ = run(BELOW_RANGE["likes"], BELOW_RANGE["shares"])

    record = PredictionRequest.objects.get()
    assert record.views < 0  # the model's figure, in the trail
    assert out.startswith("About 0 views (0); 9 times in 10 between 0 and ")
    assert out.endswith(
        f"Model v{below_zero_model.number}, record #{record.pk}. 10 likes is below the range the "
        "model was trained on (300 to 3,000) and 5 shares is below the range the model was "
        "trained on (100 to 2,000), so this prediction is an extrapolation and may be off.\n"
    )


def test_one_prediction_inside_the_range_says_nothing_about_it(below_zero_model):
    out, _ = run(INSIDE_RANGE["likes"], INSIDE_RANGE["shares"])
    record = PredictionRequest.objects.get()
    assert out.endswith(f"record #{record.pk}.\n")
    assert "extrapolation" not in out


def test_a_file_s_rows_say_whether_they_are_outside_the_range_each_inside_its_interval(
    below_zero_model, tmp_path
):
    inputs = [INSIDE_RANGE, BELOW_RANGE, ABOVE_RANGE, {"likes": 300, "shares": 2000}]
    rows = [(item["likes"], item["shares"]) for item in inputs]
    source = write_csv(tmp_path / "in.csv", [*rows, ("x", 1)], header=("likes", "shares"))
    out = tmp_path / "out.csv"

    run("--csv", source, "--out", out)

    *answered, refused = read_output(out)
    assert [row["extrapolated"] for row in answered] == ["false", "true", "true", "false"]
    assert refused["extrapolated"] == ""
    for row in answered:
        views, lower, upper = (float(row[name]) for name in ("views", "views_lower", "views_upper"))
        assert 0.0 <= lower <= views <= upper, row
    assert float(answered[1]["views"]) == 0.0
    record = PredictionRequest.objects.get(pk=answered[1]["record_id"])
    assert record.views < 0
    assert record.extrapolated


def test_one_prediction_outside_the_range_says_so_in_chinese(below_zero_model, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    out, _ = run(BELOW_RANGE["likes"], BELOW_RANGE["shares"])
    record = PredictionRequest.objects.get()
    assert out.startswith("约 0 次浏览（0）；10 次中有 9 次在 0 到 ")
    # The two sentences follow each other as Chinese writes them, without a space.
    assert out.endswith(
        f"模型 v{below_zero_model.number}，记录 #{record.pk}。点赞数 10 低于训练数据的范围（300 至 "
        "3,000），转发数 5 低于训练数据的范围（100 至 2,000），这个预测是外推的，可能不准。\n"
    )
