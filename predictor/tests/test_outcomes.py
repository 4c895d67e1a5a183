"""Real outcomes: checked whole, recorded against their prediction, superseded but never erased;
and each version's live error, computed by hand here and compared with what the database, the API,
the admin and the model card say."""

import math
import re
from dataclasses import dataclass

import pytest
from django.urls import reverse
from django.utils import translation

from predictor import display, features, services
from predictor.models import Channel, ModelVersion, Outcome, PredictionRequest
from predictor.services import served as served_counts
from predictor.services.outcomes import OUTCOME_VIEWS_MAX, OutcomeItem, training_rows

from .conftest import BELOW_RANGE, INSIDE_RANGE, exact_views, write_csv

API = services.RequestInfo(channel=Channel.API)
PREVIEW = services.RequestInfo(channel=Channel.PREVIEW)


def noisy_rows(count: int = 60):
    """The linear relation plus a deterministic noise of up to ±5,000 views, so that a model
    trained on them states a real (non-zero) interval."""
    rows = []
    for i in range(count):
        likes, shares = 100 + 37 * i, 50 + (53 * i) % 400
        noise = 5 * (((i * 7919) % 2001) - 1000)
        rows.append((likes, shares, exact_views(likes, shares) + noise))
    return rows


def predict(*pairs, info=API) -> list[PredictionRequest]:
    """The audit rows of the answers to `pairs`, as stored."""
    inputs = [{"likes": likes, "shares": shares} for likes, shares in pairs]
    answers = services.predict(inputs=inputs, raw_inputs=inputs, info=info)
    stored = PredictionRequest.objects.in_bulk([answer.pk for answer in answers])
    return [stored[answer.pk] for answer in answers]


def refuse() -> PredictionRequest:
    [record_id] = services.record_refusal(
        raw_inputs=[{"likes": "x"}], errors=[{"likes": ["bad"]}], info=API
    )
    return PredictionRequest.objects.get(pk=record_id)


def record(prediction_id, views, **options) -> Outcome:
    [outcome] = services.record_outcomes(
        [OutcomeItem(prediction_id, views)], source=options.pop("source", "api"), **options
    )
    return outcome


def refusal(items) -> services.OutcomesRefused:
    with pytest.raises(services.OutcomesRefused) as refused:
        services.record_outcomes(items, source=Outcome.Source.IMPORT)
    return refused.value


# --- Recording ----------------------------------------------------------------------------------


def test_an_outcome_is_recorded_against_its_prediction_with_its_source_user_and_note(
    active_model, staff_user
):
    [prediction] = predict((500, 300))

    outcome = record(prediction.pk, 61234, source="admin", user_id=staff_user.pk, note="CMS")

    stored = Outcome.objects.get()
    assert stored.pk == outcome.pk
    assert (stored.prediction, stored.views, stored.source, stored.user, stored.note) == (
        prediction,
        61234,
        "admin",
        staff_user,
        "CMS",
    )
    assert stored.recorded_at is not None


def test_a_later_outcome_supersedes_the_earlier_one_without_erasing_it(active_model):
    first, second = predict((500, 300), (10, 20))
    earlier = record(first.pk, 40000)
    other = record(second.pk, 2500)
    later = record(first.pk, 41000)

    assert set(Outcome.objects.values_list("pk", "views")) == {
        (earlier.pk, 40000),
        (other.pk, 2500),
        (later.pk, 41000),
    }
    in_force = Outcome.objects.latest_per_prediction()
    assert sorted(in_force.values_list("prediction", "views")) == sorted(
        [(first.pk, 41000), (second.pk, 2500)]
    )


def test_a_later_line_for_the_same_prediction_in_one_batch_supersedes_an_earlier_one(
    active_model,
):
    [prediction] = predict((500, 300))
    services.record_outcomes(
        [OutcomeItem(prediction.pk, 100, line=2), OutcomeItem(prediction.pk, 200, line=3)],
        source=Outcome.Source.IMPORT,
    )
    assert Outcome.objects.count() == 2
    assert Outcome.objects.latest_per_prediction().get().views == 200


@pytest.mark.parametrize(
    ("written", "views"),
    [
        (0, 0),
        ("12,345", 12345),
        (" 42 ", 42),
        ("１２", 12),
        ("1，200", 1200),
        (OUTCOME_VIEWS_MAX, OUTCOME_VIEWS_MAX),
    ],
    ids=["zero", "thousands separator", "spaces", "full-width", "full-width comma", "the maximum"],
)
def test_whole_numbers_are_accepted_as_people_write_them(active_model, written, views):
    [prediction] = predict((1, 1))
    assert record(prediction.pk, written).views == views
    assert Outcome.objects.get().views == views


@pytest.mark.parametrize(
    ("views", "code"),
    [
        (-1, "min_value"),
        ("-3", "min_value"),
        (1.5, "not_whole"),
        (7.0, "not_whole"),
        ("1.5", "not_whole"),
        ("1,5", "decimal_comma"),
        ("1e3", "exponent"),
        ("many", "not_a_number"),
        ("", "required"),
        ("NaN", "missing"),
        (None, "required"),
        (True, "not_a_number"),
        (False, "not_a_number"),
        (float("nan"), "not_a_number"),
        (float("inf"), "not_a_number"),
        (OUTCOME_VIEWS_MAX + 1, "max_value"),
        (str(OUTCOME_VIEWS_MAX + 1), "max_value"),
        ("9" * 30, "max_value"),
        ([5], "not_a_number"),
    ],
    ids=repr,
)
def test_a_value_that_is_not_a_whole_number_in_range_is_invalid(active_model, views, code):
    [prediction] = predict((1, 1))

    error = refusal([OutcomeItem(prediction.pk, views, line=2)])

    [problem] = error.problems
    assert (problem.code, problem.line, problem.prediction_id) == ("invalid", 2, prediction.pk)
    assert problem.refusal.code == code
    assert problem.message == str(problem.refusal)
    assert str(error).startswith(
        f"Nothing was recorded. line 2, column 浏览量 (views): {problem.message}"
    )
    assert not Outcome.objects.exists()


@pytest.mark.parametrize(
    ("prediction_id", "code"),
    [
        (0, "min_value"),
        (-1, "min_value"),
        ("abc", "not_a_number"),
        (True, "not_a_number"),
        (None, "required"),
        (2.5, "not_whole"),
        ("9" * 30, "max_value"),
    ],
)
def test_a_prediction_id_that_is_not_a_positive_whole_number_is_invalid(db, prediction_id, code):
    [problem] = refusal([OutcomeItem(prediction_id, 100, line=4)]).problems
    assert (problem.code, problem.refusal.code) == ("invalid", code)
    assert str(problem) == f"line 4, column 预测编号 (prediction_id): {problem.refusal}"


def test_an_unknown_prediction_is_not_found(active_model):
    [prediction] = predict((1, 1))
    unknown = prediction.pk + 1000

    [problem] = refusal([OutcomeItem(unknown, 100)]).problems

    assert (problem.code, problem.prediction_id) == ("not_found", unknown)
    assert problem.message == f"there is no prediction #{unknown}"


def test_a_refused_prediction_has_no_answer_to_compare_with(active_model):
    refused = refuse()

    [problem] = refusal([OutcomeItem(str(refused.pk), 100)]).problems

    assert (problem.code, problem.prediction_id) == ("not_answered", refused.pk)
    assert "was refused" in problem.message
    assert not Outcome.objects.exists()


def test_a_preview_has_no_answer_anyone_kept_to_compare_with(active_model):
    [preview] = predict((500, 300), info=PREVIEW)

    [problem] = refusal([OutcomeItem(preview.pk, 51234, line=2)]).problems

    assert (problem.code, problem.prediction_id, problem.line) == ("not_answered", preview.pk, 2)
    assert problem.message == (
        f"prediction #{preview.pk} was a preview while typing, so nobody kept its answer to "
        "compare with"
    )
    assert not Outcome.objects.exists()


def test_a_batch_with_bad_items_records_nothing_and_reports_each_in_line_order(active_model):
    first, second = predict((1, 1), (2, 2))
    refused = refuse()
    items = [
        OutcomeItem(first.pk, 100, line=2),
        OutcomeItem(refused.pk + 50, 100, line=3),
        OutcomeItem(second.pk, "lots", line=4),
        OutcomeItem(refused.pk, 100, line=5),
        OutcomeItem(second.pk, 300, line=6),
    ]

    error = refusal(items)

    assert [(p.line, p.code) for p in error.problems] == [
        (3, "not_found"),
        (4, "invalid"),
        (5, "not_answered"),
    ]
    assert not Outcome.objects.exists()
    # Checking alone tells the good from the bad, without writing either.
    checked, problems = services.check_outcomes(items)
    assert checked == [(first.pk, 100), (second.pk, 300)]
    assert len(problems) == 3
    assert not Outcome.objects.exists()


@pytest.mark.parametrize(
    ("language", "ending"),
    [
        ("en", "; line 1,021, column 浏览量 (views): “x” is not a whole number.; and 1,005 more."),
        ("zh-hans", "；第 1,021 行，浏览量 (views) 列：“x”不是整数。；另外还有 1,005 个问题。"),
    ],
)
def test_a_long_list_of_problems_says_how_many_more_in_the_readers_language(
    active_model, language, ending
):
    [prediction] = predict((1, 1))
    items = [OutcomeItem(prediction.pk, "x", line=line) for line in range(1002, 2027)]
    with translation.override(language):
        error = refusal(items)
    assert len(error.problems) == 1025
    assert str(error).endswith(ending)


# --- Reading a file -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", [("预测编号", "浏览量"), ("prediction_id", "views"), ("ID", "Views")], ids=repr
)
def test_an_outcomes_file_is_read_with_a_chinese_or_english_header(tmp_path, header):
    path = write_csv(tmp_path / "outcomes.csv", [(7, "61,000"), (8, 0)], header=header)

    items = services.read_outcomes_file(path)

    assert items == [OutcomeItem("7", "61,000", line=2), OutcomeItem("8", "0", line=3)]


def test_columns_are_found_by_name_blank_lines_skipped_and_line_numbers_kept(tmp_path):
    path = tmp_path / "outcomes.csv"
    # Saved by Excel: a byte order mark, CRLF line ends, an empty row, a blank line.
    path.write_bytes("浏览量,预测编号\r\n500,3\r\n,\r\n\r\n700,4\r\n".encode("utf-8-sig"))

    assert services.read_outcomes_file(path) == [
        OutcomeItem("3", "500", line=2),
        OutcomeItem("4", "700", line=5),
    ]


def test_a_short_line_is_refused_with_its_line(active_model, tmp_path):
    [prediction] = predict((1, 1))
    path = tmp_path / "outcomes.csv"
    path.write_text(f"预测编号,浏览量\n{prediction.pk}\n", encoding="utf-8")

    with pytest.raises(services.OutcomesRefused) as refused:
        services.read_outcomes_file(path)

    [problem] = refused.value.problems
    assert (problem.line, problem.code, problem.refusal.code) == (2, "invalid", "cells")
    assert str(problem) == "line 2: The line has 1 cell(s); expected 2 (预测编号, 浏览量)."


@pytest.mark.parametrize(
    ("header", "code", "message"),
    [
        (
            ("预测编号", "点赞数"),
            "column_unknown",
            "Unknown column(s) in the header: 点赞数. Only 预测编号 (prediction_id), "
            "浏览量 (views) are accepted.",
        ),
        (
            ("浏览量",),
            "column_missing",
            "The header has no column 预测编号 (prediction_id); it has 浏览量.",
        ),
        (
            ("id", "浏览量", "views"),
            "column_repeated",
            "The header has the column 浏览量 (views) more than once (id,浏览量,views).",
        ),
        (
            ("预测编号", "浏览量", "备注"),
            "column_unknown",
            "Unknown column(s) in the header: 备注. Only 预测编号 (prediction_id), "
            "浏览量 (views) are accepted.",
        ),
    ],
    ids=["no views", "no id", "views twice", "a note"],
)
def test_a_header_that_is_not_the_two_columns_is_refused_on_line_1(tmp_path, header, code, message):
    path = tmp_path / "outcomes.csv"
    path.write_text(",".join(header) + "\n1,2\n", encoding="utf-8")

    with pytest.raises(services.OutcomesRefused) as refused:
        services.read_outcomes_file(path)

    [problem] = refused.value.problems
    assert (problem.line, problem.refusal.code) == (1, code)
    assert str(problem) == f"line 1: {message}"


def test_an_empty_file_is_refused_naming_the_header_it_needs(tmp_path):
    path = tmp_path / "outcomes.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(services.OutcomesRefused) as refused:
        services.read_outcomes_file(path)
    [problem] = refused.value.problems
    assert (problem.line, problem.refusal.code) == (None, "file_empty")
    assert problem.message == (
        "The file is empty; expected the header 预测编号,浏览量 (or prediction_id,views) and rows."
    )


def test_a_file_that_is_not_utf8_or_cannot_be_read_is_refused(tmp_path):
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("预测编号,浏览量\n1,100\n".encode("gbk"))
    with pytest.raises(services.OutcomesRefused, match="is not UTF-8 text"):
        services.read_outcomes_file(gbk)
    with pytest.raises(services.OutcomesRefused, match="cannot be read"):
        services.read_outcomes_file(tmp_path / "missing.csv")


# --- Append-only --------------------------------------------------------------------------------


def test_outcomes_cannot_be_updated_or_deleted_through_the_orm(active_model):
    [prediction] = predict((1, 1))
    outcome = record(prediction.pk, 100)
    rows = Outcome.objects.filter(pk=outcome.pk)

    outcome.views = 999
    with pytest.raises(PermissionError):
        outcome.save()
    with pytest.raises(PermissionError):
        outcome.delete()
    with pytest.raises(PermissionError):
        rows.update(views=999)
    with pytest.raises(PermissionError):
        rows.delete()
    with pytest.raises(PermissionError):
        Outcome.objects.latest_per_prediction().delete()

    assert list(Outcome.objects.values_list("pk", "views")) == [(outcome.pk, 100)]


# --- Training rows ------------------------------------------------------------------------------


def test_training_rows_pair_the_audit_rows_inputs_with_the_newest_outcome(active_model):
    first, second, unanswered = predict((500, 300), (20, 10), (7, 7))
    refuse()
    record(first.pk, 50000)
    record(second.pk, 3000)
    newest = record(first.pk, 52000)

    inputs, target, last_outcome_id = training_rows()

    pairs = sorted(zip(map(tuple, inputs.tolist()), target.tolist(), strict=True))
    assert pairs == [((20.0, 10.0), 3000.0), ((500.0, 300.0), 52000.0)]
    assert inputs.shape == (2, len(features.INPUT_NAMES))
    assert last_outcome_id == newest.pk
    assert unanswered.pk not in Outcome.objects.values_list("prediction", flat=True)


def test_an_outcome_that_reached_a_preview_counts_in_no_live_error_and_trains_nothing(
    active_model,
):
    # record_outcomes refuses it, so this stands for a row written around it (by SQL, say).
    [preview] = predict((500, 300), info=PREVIEW)
    Outcome.objects.create(prediction=preview, views=1, source=Outcome.Source.IMPORT)
    [answered] = predict((20, 10))
    record(answered.pk, exact_views(20, 10) + 100)

    version = ModelVersion.objects.with_live_error().get(pk=active_model.pk)
    inputs, target, _ = training_rows()

    assert (version.live_outcomes, version.live_mae) == (1, pytest.approx(100))
    assert (inputs.tolist(), target.tolist()) == ([[20.0, 10.0]], [exact_views(20, 10) + 100])


def test_training_rows_are_empty_before_any_outcome(active_model):
    predict((1, 1))
    inputs, target, last_outcome_id = training_rows()
    assert inputs.shape == (0, len(features.INPUT_NAMES))
    assert target.shape == (0,)
    assert last_outcome_id is None


# --- Live error, computed by hand ---------------------------------------------------------------


@dataclass(frozen=True)
class Live:
    """A version's live error as this file computes it, in plain Python, from the stored rows."""

    version: ModelVersion
    predictions: int
    outcomes: int
    mae: float
    rmse: float
    mape: float
    coverage: float | None

    def flagged(self, settings) -> bool:
        return (
            self.outcomes >= settings.VIEWSITE_LIVE_MIN_OUTCOMES
            and self.mae > settings.VIEWSITE_LIVE_ERROR_RATIO * self.version.cv_mae
        )


def by_hand(version: ModelVersion, actual: dict[int, int]) -> Live:
    """`actual` maps each prediction id to the real views in force (the last one recorded)."""
    served = {p.pk: p for p in PredictionRequest.objects.filter(model_version=version)}
    pairs = [(served[pk], views) for pk, views in actual.items() if pk in served]
    # Against the answer served: the row's views (the model's figure) floored at 0.
    errors = [views - services.served_views(prediction.views) for prediction, views in pairs]
    relative = [
        abs(error) / views for error, (_, views) in zip(errors, pairs, strict=True) if views > 0
    ]
    inside = [
        prediction.views_lower <= views <= prediction.views_upper
        for prediction, views in pairs
        if prediction.views_lower is not None
    ]
    return Live(
        version=version,
        predictions=sum(p.accepted for p in served.values()),
        outcomes=len(pairs),
        mae=sum(abs(e) for e in errors) / len(errors),
        rmse=math.sqrt(sum(e * e for e in errors) / len(errors)),
        mape=sum(relative) / len(relative),
        coverage=sum(inside) / len(inside) if inside else None,
    )


class Served:
    """Predictions and the outcomes recorded for them, remembered as this file recorded them."""

    def __init__(self):
        self.actual: dict[int, int] = {}  # prediction id -> the real views recorded last
        self.versions: list[ModelVersion] = []

    def outcome(self, prediction: PredictionRequest, views: int) -> None:
        record(prediction.pk, views)
        self.actual[prediction.pk] = views

    def by_hand(self) -> dict[int, Live]:
        return {version.number: by_hand(version, self.actual) for version in self.versions}


@pytest.fixture
def served(db, tmp_path, linear_csv, trained_models) -> Served:
    """Two versions with predictions and outcomes: v1 trained on noisy data (a real interval),
    with outcomes inside, above and below it, superseded ones, a 0 and predictions without any;
    v2 on exact data (an interval of width 0)."""
    served = Served()
    noisy = trained_models.store(write_csv(tmp_path / "noisy.csv", noisy_rows()))
    assert noisy.interval_relative_half_width > 0
    answered = predict(*[(200 + 150 * i, 40 + 35 * i) for i in range(12)], (0, 0))
    refuse()
    for k, prediction in enumerate(answered[:-1]):
        lower, upper = prediction.views_lower, prediction.views_upper
        if k < 3:  # first a wrong figure, superseded below
            served.outcome(prediction, int(upper) * 10 if k != 1 else round(prediction.views))
        if k % 4 == 0:
            served.outcome(prediction, round((lower + upper) / 2) + 17 * k)
        elif k % 4 == 1:
            served.outcome(prediction, math.ceil(upper) + 500 * k)
        elif k % 4 == 2:
            served.outcome(prediction, max(1, math.floor(lower) - 300 * k))
        # k % 4 == 3: no outcome yet
    zero = answered[-1]
    assert zero.views_lower == 0  # the interval starts at 0, so a 0 is inside it
    served.outcome(zero, 0)

    exact = trained_models.store(linear_csv)
    assert exact.interval_relative_half_width == pytest.approx(0, abs=1e-9)  # all but 0 wide
    on_exact = predict((100, 50), (900, 10), (30, 3))
    served.outcome(on_exact[0], exact_views(100, 50))
    served.outcome(on_exact[1], exact_views(900, 10) + 2500)
    served.versions = [noisy, exact]

    expected = served.by_hand()
    # The data exercises what it claims: both sides of the interval, exclusions, supersessions.
    assert 0 < expected[1].coverage < 1
    assert expected[1].outcomes < len(answered)
    assert Outcome.objects.count() > sum(live.outcomes for live in expected.values())
    return served


@pytest.fixture
def live(served) -> dict[int, Live]:
    """Each version's live error, by hand."""
    return served.by_hand()


def assert_database_matches(expected: dict[int, Live]) -> None:
    versions = {v.number: v for v in ModelVersion.objects.with_live_error()}
    for number, live in expected.items():
        version = versions[number]
        assert (version.live_predictions, version.live_outcomes) == (
            live.predictions,
            live.outcomes,
        )
        assert version.live_mae == pytest.approx(live.mae)
        assert version.live_rmse == pytest.approx(live.rmse)
        assert version.live_mape == pytest.approx(live.mape)
        assert version.live_coverage == pytest.approx(live.coverage)


def test_live_error_in_the_database_matches_a_computation_by_hand(live):
    assert_database_matches(live)


def test_the_models_api_shows_the_live_error_computed_by_hand(client, live):
    body = client.get(reverse("predictor:model-list")).json()

    shown = {version["version"]: version["live"] for version in body["results"]}
    for number, expected in live.items():
        assert shown[f"v{number}"] == {
            "predictions": expected.predictions,
            "outcomes": expected.outcomes,
            "mae": pytest.approx(expected.mae),
            "rmse": pytest.approx(expected.rmse),
            "mape": pytest.approx(expected.mape),
            "interval_coverage": pytest.approx(expected.coverage),
            "flagged": False,
            "problem": "",
        }


def admin_columns(html: str) -> dict[str, dict[str, str]]:
    """The ModelVersion changelist's cells, by version label and column name."""
    table = {}
    for row in re.findall(r"<tr>(.*?)</tr>", html, flags=re.S):
        cells = dict(re.findall(r'<t[dh] class="field-(\w+)[^"]*">(.*?)</t[dh]>', row, re.S))
        if "label" in cells:
            table[re.sub(r"<[^>]+>", "", cells["label"])] = cells
    return table


def test_the_admin_changelist_shows_the_live_error_computed_by_hand(admin_client, live):
    page = admin_client.get(reverse("admin:predictor_modelversion_changelist"))

    assert page.status_code == 200
    rows = admin_columns(page.content.decode())
    for number, expected in live.items():
        row = rows[f"v{number}"]
        # Written as display writes them: views whole, shares as percentages to one decimal.
        assert row["live_answers"] == (
            f'<span class="live-predictions">{expected.predictions:,}</span> / '
            f'<span class="live-outcomes">{expected.outcomes:,}</span>'
        )
        assert row["live_mae"] == display.count(expected.mae)
        assert row["live_mape"] == display.percent(expected.mape)
        assert row["live_coverage"] == display.percent(expected.coverage)
        assert row["live_error"] == "ok"


def card_cells(html: str) -> dict[str, str]:
    return dict(re.findall(r'<td class="live-(\w+)">(.*?)</td>', html))


def test_the_model_card_shows_the_live_error_computed_by_hand(client, live):
    for number, expected in live.items():
        page = client.get(reverse("predictor:model-card", kwargs={"number": number}))

        assert page.status_code == 200
        html = page.content.decode()
        # Written as display writes them: views whole, shares as percentages to one decimal.
        assert card_cells(html) == {
            "predictions": display.count(expected.predictions),
            "outcomes": display.count(expected.outcomes),
            "mae": display.count(expected.mae),
            "rmse": display.count(expected.rmse),
            "mape": display.percent(expected.mape),
            "coverage": display.percent(expected.coverage),
        }
        assert 'id="live-error-flag"' not in html


@pytest.mark.parametrize(
    ("min_outcomes", "ratio", "v1_flagged"),
    [(1, 0.01, True), (1, 1000.0, False), (1000, 0.01, False)],
    ids=["clearly worse", "within the ratio", "too few outcomes"],
)
def test_a_version_clearly_worse_live_is_flagged_in_the_api_the_admin_and_the_card(
    admin_client, live, settings, min_outcomes, ratio, v1_flagged
):
    settings.VIEWSITE_LIVE_MIN_OUTCOMES = min_outcomes
    settings.VIEWSITE_LIVE_ERROR_RATIO = ratio
    flags = {number: expected.flagged(settings) for number, expected in live.items()}
    assert flags[1] is v1_flagged  # the settings, not the data, decide each case

    api = {
        v["version"]: v["live"]
        for v in admin_client.get(reverse("predictor:model-list")).json()["results"]
    }
    rows = admin_columns(
        admin_client.get(reverse("admin:predictor_modelversion_changelist")).content.decode()
    )
    for number, flagged in flags.items():
        label = f"v{number}"
        card = admin_client.get(reverse("predictor:model-card", kwargs={"number": number}))
        assert api[label]["flagged"] is flagged
        assert ('id="live-error-flag"' in card.content.decode()) is flagged
        if flagged:
            problem = api[label]["problem"]
            assert f"on {live[number].outcomes:,} reported real view counts" in problem
            assert f"more than {ratio:g} times" in problem
            assert problem in card.content.decode()
            assert problem in rows[label]["live_error"]
            assert "⚠" in rows[label]["live_error"]
        else:
            assert api[label]["problem"] == ""
            assert rows[label]["live_error"] == "ok"


def test_a_correction_changes_the_live_error_at_once(served):
    """Superseding an outcome replaces it in the figures; the earlier one stays on record."""
    noisy = served.versions[0]
    prediction = PredictionRequest.objects.filter(
        model_version=noisy, pk__in=list(served.actual)
    ).first()
    before = served.by_hand()

    served.outcome(prediction, served.actual[prediction.pk] + 1_000_000)

    after = served.by_hand()
    assert after[1].outcomes == before[1].outcomes
    assert after[1].mae != pytest.approx(before[1].mae)
    assert_database_matches(after)


def test_the_live_error_by_hand_holds_across_checkpoints_and_corrections_since(served):
    """The card's figures are a checkpoint's sums plus the outcomes since (services/served.py):
    a correction after a checkpoint takes the one it supersedes off its sums."""
    newest = PredictionRequest.objects.latest("pk").pk
    served_counts.advance(through_id=newest, outcomes_through_id=Outcome.objects.latest("pk").pk)
    assert_database_matches(served.by_hand())
    corrected = PredictionRequest.objects.filter(pk__in=list(served.actual)).order_by("pk")
    served.outcome(corrected[0], served.actual[corrected[0].pk] + 1_000_000)
    assert_database_matches(served.by_hand())

    [asked] = predict((20, 10))
    served.outcome(corrected[1], 0)
    served_counts.advance(through_id=asked.pk, outcomes_through_id=Outcome.objects.latest("pk").pk)
    served.outcome(corrected[1], 1)
    assert_database_matches(served.by_hand())


def test_live_error_is_measured_against_the_answer_served_not_a_figure_below_zero(
    below_zero_model,
):
    below, inside = predict(
        (BELOW_RANGE["likes"], BELOW_RANGE["shares"]),
        (INSIDE_RANGE["likes"], INSIDE_RANGE["shares"]),
    )
    assert below.views < -10_000 < 0 < inside.views
    record(below.pk, 2_000)
    record(inside.pk, 90_000)

    live = ModelVersion.objects.with_live_error().get(pk=below_zero_model.pk)

    # The reader was told 0 views for the first, not the model's figure.
    errors = [2_000 - 0.0, 90_000 - inside.views]
    assert live.live_mae == pytest.approx(sum(map(abs, errors)) / 2)
    assert live.live_coverage == 1.0  # the served interval, from 0, held 2,000
