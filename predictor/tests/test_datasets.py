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
        ("abc", "'abc' is not a number"),
        ("-5", "'-5' is below the minimum 0"),
        ("12.5", "'12.5' is not a whole number"),
        ("inf", "'inf' is not a number"),
        ("25000", "'25000' is above the maximum 20,000"),
    ],
)
def test_a_bad_cell_is_refused_naming_file_row_and_column(tmp_path, cell, problem):
    rows = linear_rows(12)
    rows[4] = (rows[4][0], cell, rows[4][2])
    path = write_csv(tmp_path / "bad.csv", rows)

    with pytest.raises(DatasetError) as refused:
        load_training_data(path)

    assert str(refused.value) == f"{path}: row 5 (line 6), column 转发数: {problem}."


def test_a_blank_target_is_refused(tmp_path):
    rows = linear_rows(12)
    rows[0] = (rows[0][0], rows[0][1], "")
    with pytest.raises(DatasetError, match=r"row 1 \(line 2\), column 浏览量: '' is blank"):
        load_training_data(write_csv(tmp_path / "blank.csv", rows))


def test_a_missing_column_is_named(tmp_path):
    path = write_csv(tmp_path / "two.csv", [(1, 2)] * 12, header=("点赞数", "浏览量"))
    with pytest.raises(
        DatasetError, match="missing column 转发数 \\(or shares\\); the header has 点赞数, 浏览量"
    ):
        load_training_data(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        ("点赞数,转发数,浏览量\n".encode(), "has a header but no data rows"),
        ("点赞数,转发数,浏览量\n1,2,3\n".encode(), "only 1 data rows; at least 10"),
        ("点赞数,转发数,浏览量\n".encode("gbk") + b"1,2,3\n", "line 1 is not UTF-8"),
    ],
)
def test_unusable_files_are_refused_with_the_file_named(tmp_path, content, message):
    path = tmp_path / "unusable.csv"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=message) as refused:
        load_training_data(path)
    assert str(refused.value).startswith(str(path))


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="cannot be read"):
        load_training_data(tmp_path / "nope.csv")


def test_an_unknown_column_is_refused_naming_it(tmp_path):
    rows = [(*row, "标题") for row in linear_rows(12)]
    path = write_csv(tmp_path / "extra.csv", rows, header=(*HEADER, "标题"))
    with pytest.raises(DatasetError) as refused:
        load_training_data(path)
    assert str(refused.value) == (
        f"{path}: line 1 (the header): Unknown field(s): 标题. Only 点赞数 (likes), "
        "转发数 (shares) and 浏览量 (views) are accepted."
    )
