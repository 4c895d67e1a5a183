"""A count means the same at every door (issue 20, item 1).

Each case is sent through every door that reads a count: the form, the API (one input and a
batch), `predict` (arguments and `--csv`), `retrain --data`, the outcome API and
`import_outcomes`. Each door must take it as the same number, or refuse it with the same
refusal: the same code and parameters where the audit trail keeps them, the same sentence where
the door only says it. counts.read_count gives the expected refusal's parameters; the table
gives its code, so a change in the core shows here too.
"""

import contextlib
import csv
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from predictor import features, services
from predictor.counts import CountRefused, read_count
from predictor.models import Channel, ModelVersion, Outcome, PredictionRequest
from predictor.services.outcomes import OUTCOME_VIEWS_MAX

# (as a person writes it, likes read as, real views read as): a number, or a refusal's code.
TEXT_CASES = [
    ("500", 500, 500),
    (" 500 ", 500, 500),
    ("５００", 500, 500),
    ("1,200", 1200, 1200),
    ("1，200", 1200, 1200),
    ("1,5", "decimal_comma", "decimal_comma"),
    ("1,20", "decimal_comma", "decimal_comma"),
    ("1e3", "exponent", "exponent"),
    ("500.0", "not_whole", "not_whole"),
    ("500.5", "not_whole", "not_whole"),
    ("1/2", "not_whole", "not_whole"),
    ("5_00", "not_a_number", "not_a_number"),
    ("+5", "not_a_number", "not_a_number"),
    ("-5", "min_value", "min_value"),
    ("", "required", "required"),
    ("NaN", "missing", "missing"),
    # Above the inputs' 20,000, well within what real views reach.
    ("20001", "max_value", 20001),
]
# JSON values, sent as such to the JSON doors and as their JSON text to the others: a whole
# number written with a decimal point is refused alike, and true is no number anywhere.
JSON_CASES = [
    (500, 500, 500),
    (500.0, "not_whole", "not_whole"),
    (True, "not_a_number", "not_a_number"),
]
CASES = TEXT_CASES + JSON_CASES

LIKES_BOUNDS = {"minimum": features.LIKES.min_value, "maximum": features.LIKES.max_value}
VIEWS_BOUNDS = {"minimum": 0, "maximum": OUTCOME_VIEWS_MAX}
PAGE = reverse("predictor:predict")
PREDICTIONS = reverse("predictor:prediction-create")


def as_text(value) -> str:
    """How a file or a command line carries a value: text as it is, a JSON value as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def expected(value, outcome, bounds):
    """The number, or the core's refusal of `value`, having checked it has the table's code."""
    try:
        number = read_count(value, **bounds)
    except CountRefused as refused:
        refusal = refused.refusal
    else:
        assert number == outcome
        return number
    assert refusal.code == outcome
    return refusal


def audited(record: PredictionRequest, field: str = "likes"):
    """What the audit row says of the likes: the number, or the refusal as stored."""
    if record.accepted:
        return getattr(record, field)
    [refusal] = record.errors[field]
    return refusal


def newest_record() -> PredictionRequest:
    return PredictionRequest.objects.order_by("-pk").first()


# --- The prediction doors: the likes of an input --------------------------------------------------


def form_door(value, client):
    client.post(PAGE, {"likes": as_text(value), "shares": "300"}, HTTP_ACCEPT_LANGUAGE="en")
    return audited(newest_record())


def api_door(value, client):
    client.post(PREDICTIONS, {"likes": value, "shares": 300}, format="json")
    return audited(newest_record())


def api_batch_door(value, client):
    client.post(
        PREDICTIONS, [{"likes": 1, "shares": 1}, {"likes": value, "shares": 300}], format="json"
    )
    record = newest_record()
    assert record.raw_input == {"likes": value, "shares": 300}
    return audited(record)


def command_door(value, tmp_path):
    # A refusal is read from the audit row, which every refusal gets.
    with contextlib.suppress(CommandError):
        call_command("predict", as_text(value), "300", stdout=StringIO())
    record = newest_record()
    assert record.channel == Channel.CLI
    return audited(record)


def csv_door(value, tmp_path):
    source = write_rows(tmp_path / "predict.csv", ("likes", "shares"), [(as_text(value), "300")])
    call_command(
        "predict",
        "--csv",
        str(source),
        "--out",
        str(tmp_path / "out.csv"),
        stdout=StringIO(),
        stderr=StringIO(),
    )
    record = newest_record()
    assert record.raw_input["line"] == 2
    return audited(record)


# --- The training door: a cell of one row of an otherwise good file ------------------------------


# Small counts, so that the case's accepted number is its column's maximum in the model's card.
BASE_ROWS = [(i, (3 * i) % 7, 5 * i + i % 3) for i in range(1, 12)]


def retrain_door(value, tmp_path, column: int):
    row = [str(cell) for cell in BASE_ROWS[0]]
    row[column] = as_text(value)
    path = write_rows(tmp_path / "train.csv", ("点赞数", "转发数", "浏览量"), [*BASE_ROWS, row])
    try:
        # --force: a row far from the others may fail the quality gate; only the reading counts.
        call_command("retrain", "--data", str(path), "--force", stdout=StringIO())
    except CommandError as error:
        message = str(error)
    else:
        name = ("likes", "shares", "views")[column]
        summary = ModelVersion.objects.latest("pk").training_summary["columns"][name]
        assert summary["max"].is_integer()
        return int(summary["max"])
    shown = ("点赞数 (likes)", "转发数 (shares)", "浏览量 (views)")[column]
    prefix = f"The data file was refused: {path}: line 13, column {shown}: "
    assert message.startswith(prefix)
    return message.removeprefix(prefix)


# --- The outcome doors: real views ------------------------------------------------------------


def outcome_api_door(value, prediction, recorder):
    client = APIClient()
    client.force_authenticate(recorder)
    url = reverse("predictor:prediction-outcome", args=[prediction.pk])
    response = client.post(url, {"views": value}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    if response.status_code == 201:
        return Outcome.objects.get(pk=response.json()["id"]).views
    assert response.status_code == 400, response.content
    [sentence] = response.json()["errors"]["views"]
    return sentence


def import_door(value, prediction, tmp_path):
    path = write_rows(
        tmp_path / "outcomes.csv", ("预测编号", "浏览量"), [(str(prediction.pk), as_text(value))]
    )
    err = StringIO()
    try:
        call_command("import_outcomes", str(path), stdout=StringIO(), stderr=err)
    except CommandError:
        [line] = err.getvalue().splitlines()
    else:
        return Outcome.objects.latest("pk").views
    prefix = f"{path}: line 2, column 浏览量 (views): "
    assert line.startswith(prefix)
    return line.removeprefix(prefix)


def write_rows(path: Path, header, rows) -> Path:
    # csv.writer quotes "1,200" as a spreadsheet does, so the cell arrives whole.
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def recorder(django_user_model):
    return django_user_model.objects.create_superuser("recorder", "r@example.com", "pw")


@pytest.mark.parametrize(("value", "likes", "views"), CASES, ids=[repr(case[0]) for case in CASES])
def test_a_count_reads_the_same_through_every_door(
    active_model, client, tmp_path, recorder, value, likes, views
):
    api = APIClient()
    with translation.override("en"):
        as_likes = expected(value, likes, LIKES_BOUNDS)
        as_views = expected(value, views, VIEWS_BOUNDS)
        stored = as_likes.stored() if not isinstance(as_likes, int) else as_likes
        said = str(as_likes) if not isinstance(as_likes, int) else as_likes
        said_views = str(as_views) if not isinstance(as_views, int) else as_views

        # The doors that audit keep the refusal as its code and parameters.
        answers = {
            "form": form_door(value, client),
            "api": api_door(value, api),
            "api batch": api_batch_door(value, api),
            "predict": command_door(value, tmp_path),
            "predict --csv": csv_door(value, tmp_path),
        }
        assert answers == dict.fromkeys(answers, stored)

        # The others say it; the training file's likes are bounded as every input is.
        assert retrain_door(value, tmp_path, 0) == said
        [prediction] = services.predict(
            inputs=[{"likes": 1, "shares": 1}],
            raw_inputs=[{"likes": 1, "shares": 1}],
            info=services.RequestInfo(channel=Channel.API),
        )
        views_answers = {
            "retrain --data": retrain_door(value, tmp_path, 2),
            "outcome API": outcome_api_door(value, prediction, recorder),
            "import_outcomes": import_door(value, prediction, tmp_path),
        }
        assert views_answers == dict.fromkeys(views_answers, said_views)


@pytest.mark.parametrize(
    ("cell", "code"),
    [("1,5", "decimal_comma"), ("1e3", "exponent"), ("0", "min_value"), ("#3", "not_a_number")],
)
def test_a_prediction_id_in_an_outcomes_file_is_a_count_too(db, tmp_path, cell, code):
    path = write_rows(tmp_path / "outcomes.csv", ("预测编号", "浏览量"), [(cell, "100")])
    err = StringIO()
    with pytest.raises(CommandError, match="1 bad line"):
        call_command("import_outcomes", str(path), stdout=StringIO(), stderr=err)
    with translation.override("en"):
        refusal = expected(cell, code, {"minimum": 1, "maximum": None})
        assert err.getvalue() == f"{path}: line 2, column 预测编号 (prediction_id): {refusal}\n"
