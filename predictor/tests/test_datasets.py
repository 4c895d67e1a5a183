import numpy as np
import pytest

from predictor.services import DatasetError, load_training_data

from .conftest import HEADER, linear_rows, write_csv


def test_course_format_with_bom_crlf_and_nan_blanks_is_read_and_blank_shares_filled(tmp_path):
    path = tmp_path / "course.csv"
    rows = [("2646", "1347", "260004"), ("827", "NaN", "107503")] + [
        (str(a), str(b), str(c)) for a, b, c in linear_rows(10)
    ]
    text = "\ufeff" + "\r\n".join(",".join(row) for row in [HEADER, *rows]) + "\r\n"
    path.write_bytes(text.encode("utf-8"))

    data = load_training_data(path)

    assert data.rows == 12
    assert data.rows_filled == 1
    np.testing.assert_array_equal(data.inputs[1], [827, 827])
    assert data.target[0] == 260004
    assert data.file_name == "course.csv"
    assert len(data.sha256) == 64


def test_english_headers_and_empty_blanks_are_accepted(tmp_path):
    rows = [(a, "" if i == 3 else b, c) for i, (a, b, c) in enumerate(linear_rows(12))]
    data = load_training_data(
        write_csv(tmp_path / "en.csv", rows, header=("likes", "shares", "views"))
    )
    assert data.rows == 12
    assert data.rows_filled == 1
    assert data.inputs[3][1] == data.inputs[3][0]


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ("abc", "“abc” is not a whole number."),
        ("-5", "Ensure this value is greater than or equal to 0."),
        ("12.5", "“12.5” is not a whole number: a count has no fraction or decimal point."),
        ("1e3", "“1e3” is not a whole number: write the digits (1000), not an exponent."),
        ("inf", "“inf” is not a whole number."),
        ("25000", "Ensure this value is less than or equal to 20,000."),
    ],
)
def test_a_bad_cell_is_refused_naming_file_line_and_column(tmp_path, cell, problem):
    rows = linear_rows(12)
    rows[4] = (rows[4][0], cell, rows[4][2])
    path = write_csv(tmp_path / "bad.csv", rows)

    with pytest.raises(DatasetError) as refused:
        load_training_data(path)

    assert str(refused.value) == f"{path}: line 6, column 转发数 (shares): {problem}"


def test_a_blank_target_is_refused(tmp_path):
    rows = linear_rows(12)
    rows[0] = (rows[0][0], rows[0][1], "")
    path = write_csv(tmp_path / "blank.csv", rows)
    with pytest.raises(DatasetError) as refused:
        load_training_data(path)
    assert str(refused.value) == f"{path}: line 2, column 浏览量 (views): This field is required."


def test_a_missing_column_is_named(tmp_path):
    path = write_csv(tmp_path / "two.csv", [(1, 2)] * 12, header=("点赞数", "浏览量"))
    with pytest.raises(DatasetError) as refused:
        load_training_data(path)
    assert str(refused.value) == (
        f"{path}: line 1: The header has no column 转发数 (shares); it has 点赞数,浏览量."
    )


def test_a_repeated_column_is_refused(tmp_path):
    rows = [(*row, row[0]) for row in linear_rows(12)]
    path = write_csv(tmp_path / "twice.csv", rows, header=(*HEADER, "likes"))
    with pytest.raises(DatasetError) as refused:
        load_training_data(path)
    assert str(refused.value) == (
        f"{path}: line 1: The header has the column 点赞数 (likes) more than once "
        "(点赞数,转发数,浏览量,likes)."
    )


def test_a_short_line_is_refused_with_its_line(tmp_path):
    rows = linear_rows(12)
    rows[2] = rows[2][:2]
    path = write_csv(tmp_path / "short.csv", rows)
    with pytest.raises(DatasetError) as refused:
        load_training_data(path)
    assert str(refused.value) == (
        f"{path}: line 4: The line has 2 cell(s); expected 3 (点赞数, 转发数, 浏览量)."
    )


def test_blank_lines_are_skipped_and_later_lines_keep_their_numbers(tmp_path):
    rows = [",".join(map(str, row)) for row in linear_rows(12)]
    rows[5] = "1,2,x"
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join([",".join(HEADER), "", *rows]) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError) as refused:
        load_training_data(path)
    # Line 1 the header, line 2 blank, so rows[5] is on line 8.
    assert (
        str(refused.value) == f"{path}: line 8, column 浏览量 (views): “x” is not a whole number."
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", ": The file is empty; expected the header 点赞数,转发数,浏览量"),
        ("点赞数,转发数,浏览量\n".encode(), ": The file has a header but no data rows."),
        (
            "点赞数,转发数,浏览量\n1,2,3\n".encode(),
            ": Only 1 data rows; at least 10 are needed",
        ),
        (
            "点赞数,转发数,浏览量\n".encode("gbk") + b"1,2,3\n",
            ": line 1: This is not UTF-8 text. Save the file as UTF-8",
        ),
    ],
)
def test_unusable_files_are_refused_with_the_file_named(tmp_path, content, message):
    path = tmp_path / "unusable.csv"
    path.write_bytes(content)
    with pytest.raises(DatasetError) as refused:
        load_training_data(path)
    assert str(refused.value).startswith(f"{path}{message}")


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="cannot be read"):
        load_training_data(tmp_path / "nope.csv")


def test_an_unknown_column_is_refused_naming_it(tmp_path):
    rows = [(*row, "标题") for row in linear_rows(12)]
    path = write_csv(tmp_path / "extra.csv", rows, header=(*HEADER, "标题"))
    with pytest.raises(DatasetError) as refused:
        load_training_data(path)
    assert str(refused.value) == (
        f"{path}: line 1: Unknown column(s) in the header: 标题. Only 点赞数 (likes), "
        "转发数 (shares), 浏览量 (views) are accepted."
    )


def test_the_summary_records_each_inputs_exact_value_counts_the_filled_shares_included(tmp_path):
    rows = [(5, 2, 100), (5, "", 90), (7, 2, 120), *[(10 + i, 3, 200) for i in range(10)]]
    summary = load_training_data(write_csv(tmp_path / "d.csv", rows)).summary()
    likes = dict(summary["distributions"]["likes"])
    shares = dict(summary["distributions"]["shares"])
    assert (likes[5], likes[7]) == (2, 1)
    assert sum(likes.values()) == len(rows)
    # The blank share was filled with its likes (5), as the model was trained on it.
    assert shares == {2: 2, 5: 1, 3: 10}
    assert [value for value, _ in summary["distributions"]["likes"]] == sorted(likes)
