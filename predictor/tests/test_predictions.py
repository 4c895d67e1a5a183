import json
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from predictor import services
from predictor.models import (
    Activation,
    Channel,
    ModelFile,
    ModelVersion,
    PredictionRequest,
)
from predictor.services import registry

from .conftest import ABOVE_RANGE, BELOW_RANGE, INSIDE_RANGE, exact_views, replace_stored_file


def info(**overrides):
    return services.RequestInfo(
        channel="api", client_ip="203.0.113.9", user_agent="pytest", **overrides
    )


def test_predict_answers_exactly_and_audits_one_row_per_input(active_model):
    inputs = [{"likes": 500, "shares": 300}, {"likes": 0, "shares": 0}]

    records = services.predict(inputs=inputs, raw_inputs=inputs, info=info(), batch=True)

    assert [r.views for r in records] == [exact_views(500, 300), exact_views(0, 0)]
    stored = PredictionRequest.objects.order_by("batch_index")
    assert [(r.likes, r.shares, r.views, r.accepted) for r in stored] == [
        (500, 300, 59000.0, True),
        (0, 0, 1000.0, True),
    ]
    assert {r.model_version_id for r in stored} == {active_model.pk}
    assert len({r.batch_id for r in stored}) == 1
    assert all(r.client_ip == "203.0.113.9" and r.user_agent == "pytest" for r in stored)
    assert all(r.latency_ms >= 0 for r in stored)


def test_a_batch_is_one_predictor_call_and_its_inserts_alone(active_model, monkeypatch):
    predictor = services.load_predictor(active_model)
    calls = []
    real_predict = predictor.predict
    monkeypatch.setattr(
        predictor, "predict", lambda rows: calls.append(len(rows)) or real_predict(rows)
    )
    inputs = [{"likes": i, "shares": 2 * i} for i in range(2000)]
    # The first request reads which version is active; the next, within a second, do not ask.
    services.predict(inputs=inputs[:1], raw_inputs=inputs[:1], info=info())
    calls.clear()

    with CaptureQueriesContext(connection) as queries:
        records = services.predict(inputs=inputs, raw_inputs=inputs, info=info(), batch=True)

    assert calls == [2000]
    statements = [q["sql"] for q in queries.captured_queries]
    statements = [sql for sql in statements if "SELECT" in sql or "INSERT" in sql]
    # No lookup of the active version (read within the bound), the rows' ids, then the rows in
    # one statement (SQLite's executemany; PostgreSQL's COPY goes around Django's query log), in
    # one transaction.
    assert "nextval" in statements[0] or "sqlite_sequence" in statements[0]
    if connection.vendor == "sqlite":
        assert statements[1:] == [statements[1]]
        # One executemany; its rows stream to it, so Django's log cannot count them ("? times").
        assert " times: INSERT" in statements[1]
    else:
        assert statements[1:] == []
    # Each answer carries the id of its own row.
    stored = PredictionRequest.objects.in_bulk([r.id for r in records])
    rows = [stored[r.id] for r in records]
    assert [(row.batch_index, row.likes, row.shares) for row in rows] == [
        (i, i, 2 * i) for i in range(2000)
    ]


def test_without_an_active_model_the_request_is_refused_and_audited(db):
    with pytest.raises(services.ModelUnavailable, match="No model is active"):
        services.predict(inputs=[{"likes": 1, "shares": 1}], raw_inputs=[{"likes": 1}], info=info())
    [row] = PredictionRequest.objects.all()
    assert not row.accepted
    assert row.views is None
    assert row.model_version is None
    assert row.errors == {"model": [{"code": "no_active_model", "params": {}}]}


def test_a_tampered_active_artifact_is_refused_and_audited(active_model):
    replace_stored_file(active_model.artifact_name, b"not the model")
    with pytest.raises(services.ArtifactIntegrityError):
        services.predict(inputs=[{"likes": 1, "shares": 1}], raw_inputs=[{}], info=info())
    assert PredictionRequest.objects.get().accepted is False


def test_after_a_retrain_the_next_prediction_uses_the_new_version(
    active_model, linear_csv, trained_models
):
    before = services.predict(inputs=[{"likes": 1, "shares": 1}], raw_inputs=[{}], info=info())
    newer = trained_models.store(linear_csv)
    after = services.predict(inputs=[{"likes": 1, "shares": 1}], raw_inputs=[{}], info=info())
    assert before[0].model_version == active_model
    assert after[0].model_version == newer


ONE = [{"likes": 1, "shares": 1}]


def test_a_rollback_elsewhere_is_served_within_the_bound(
    active_model, linear_csv, trained_models, settings
):
    settings.VIEWSITE_ACTIVE_VERSION_MAX_AGE = 0.2
    services.predict(inputs=ONE, raw_inputs=ONE, info=info())
    newer = trained_models.store(linear_csv)
    assert services.predict(inputs=ONE, raw_inputs=ONE, info=info())[0].model_version == newer

    # Another process (`manage.py activate`) rolls back; this one has both versions loaded.
    ModelVersion.objects.filter(pk=newer.pk).update(is_active=False)
    ModelVersion.objects.filter(pk=active_model.pk).update(is_active=True)
    rolled_back = time.monotonic()
    answers = []
    while not answers or answers[-1].model_version != active_model:
        assert time.monotonic() - rolled_back < 0.2 + 1, "the rollback was not served"
        answers += services.predict(inputs=ONE, raw_inputs=ONE, info=info())

    # Served once this process asked again (0.2 s at most), and each row names the version
    # that computed it, on either side of the switch.
    assert answers[-1].model_version == active_model
    for answer in answers:
        assert PredictionRequest.objects.get(pk=answer.pk).model_version == answer.model_version
        assert answer.views == exact_views(1, 1)


def test_a_row_is_never_older_than_the_activation_of_the_version_that_answered(
    active_model, linear_csv, monkeypatch, trained_models
):
    newer = trained_models.store(linear_csv, activate=False)
    lookup = services.registry.active_version

    def activated_elsewhere_just_before_the_lookup():
        services.activate(
            version=newer, door=Activation.Door.COMMAND
        )  # another process, while this request was starting
        return lookup()

    monkeypatch.setattr(
        services.registry, "active_version", activated_elsewhere_just_before_the_lookup
    )
    [answer] = services.predict(inputs=ONE, raw_inputs=ONE, info=info())

    newer.refresh_from_db()
    assert answer.model_version == newer
    assert PredictionRequest.objects.get(pk=answer.pk).created_at >= newer.activated_at


def test_editing_a_versions_recorded_parameters_changes_no_answer(active_model):
    # Whoever can write the row but not the artifacts must not be able to change the answers.
    before = services.predict(inputs=ONE, raw_inputs=ONE, info=info())[0].views
    ModelVersion.objects.filter(pk=active_model.pk).update(
        parameters={"coefficients": {"likes": 1e6, "shares": 1e6}, "intercept": -5.0}
    )
    services.registry.clear_loaded_models()  # as a worker that starts after the edit

    after = services.predict(inputs=ONE, raw_inputs=ONE, info=info())[0].views
    assert after == before == exact_views(1, 1)


def test_a_tampered_serving_file_is_refused_and_audited(active_model):
    spec = json.loads(bytes(ModelFile.objects.get(name=active_model.serving_name).content))
    spec["coefficients"][0] *= 100
    replace_stored_file(active_model.serving_name, json.dumps(spec).encode())
    with pytest.raises(services.ArtifactIntegrityError, match="does not match"):
        services.predict(inputs=ONE, raw_inputs=ONE, info=info())
    assert PredictionRequest.objects.get().accepted is False


def test_audit_rows_cannot_be_updated_or_deleted(active_model):
    [answer] = services.predict(inputs=[{"likes": 1, "shares": 2}], raw_inputs=[{}], info=info())
    record = PredictionRequest.objects.get(pk=answer.id)
    record.views = 1.0
    with pytest.raises(PermissionError):
        record.save()
    with pytest.raises(PermissionError):
        record.delete()
    with pytest.raises(PermissionError):
        PredictionRequest.objects.update(views=0)
    with pytest.raises(PermissionError):
        PredictionRequest.objects.all().delete()
    assert PredictionRequest.objects.get().views == exact_views(1, 2)


def test_non_finite_raw_input_is_stored_as_text(db):
    services.record_refusal(
        raw_inputs=[{"likes": float("nan"), "shares": [float("inf")]}],
        errors=[{"likes": ["bad"]}],
        info=info(),
    )
    assert PredictionRequest.objects.get().raw_input == {"likes": "nan", "shares": ["inf"]}


def test_each_answer_carries_its_versions_interval_into_its_audit_row(
    db, noisy_csv, trained_models
):
    version = trained_models.store(noisy_csv)
    inputs = [{"likes": 500, "shares": 300}, {"likes": 0, "shares": 0}]

    records = services.predict(inputs=inputs, raw_inputs=inputs, info=info(), batch=True)

    share, floor = version.interval_relative_half_width, version.interval_scale_floor
    assert 0 < share < 1
    assert floor > 0
    for record in PredictionRequest.objects.filter(pk__in=[r.pk for r in records]):
        half_width = share * max(record.views, floor)
        assert record.views_lower == pytest.approx(max(0.0, record.views - half_width), abs=0.02)
        assert record.views_upper == pytest.approx(record.views + half_width, abs=0.02)
    # (0, 0) predicts little: its interval is the floor's, and never below zero views.
    assert records[1].views_upper - records[1].views == pytest.approx(share * floor, abs=0.02)
    assert records[1].views_lower >= 0


def test_a_version_trained_before_intervals_answers_without_one(active_model):
    ModelVersion.objects.filter(pk=active_model.pk).update(
        interval_coverage=None, interval_relative_half_width=None, interval_scale_floor=None
    )
    registry.clear_loaded_models()

    [record] = services.predict(inputs=[{"likes": 1, "shares": 1}], raw_inputs=[{}], info=info())

    assert (record.views, record.views_lower, record.views_upper) == (exact_views(1, 1), None, None)


def test_predict_writes_nothing_but_the_audit_rows_and_the_served_count_follows_them(
    active_model,
):
    one = [{"likes": 1, "shares": 2}]
    services.predict(inputs=one, raw_inputs=one, info=info())  # the version is read once

    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            services.predict(inputs=one, raw_inputs=one, info=info())
        services.predict(inputs=one * 5, raw_inputs=one * 5, info=info(), batch=True)
        services.record_refusal(
            raw_inputs=[{"likes": "x"}], errors=[{"likes": ["bad"]}], info=info()
        )

    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].split()[0].upper() in ("INSERT", "UPDATE", "DELETE", "COPY")
    ]
    assert writes
    assert all(sql.upper().startswith(("INSERT", "COPY")) for sql in writes)
    assert all('"predictor_predictionrequest"' in sql for sql in writes)
    version = ModelVersion.objects.with_live_error().get(pk=active_model.pk)
    assert version.live_predictions == 1 + 3 + 5


def test_previews_are_audited_but_count_in_neither_the_served_count_nor_the_extrapolation_share(
    active_model,
):
    # Far outside the training data's likes, so a counted answer would be an extrapolated one.
    outside = [{"likes": 20_000, "shares": 100}]
    preview = services.RequestInfo(channel=Channel.PREVIEW)
    for _ in range(3):
        services.predict(inputs=outside, raw_inputs=outside, info=preview)

    def figures():
        card = services.model_card(active_model.number)
        return card.version.live_predictions, card.drift.served, card.drift.share_outside

    assert figures() == (0, 0, None)
    assert PredictionRequest.objects.filter(channel=Channel.PREVIEW, accepted=True).count() == 3

    services.predict(inputs=outside, raw_inputs=outside, info=info())

    assert figures() == (1, 1, 1.0)


# --- An answer honest about itself: never below zero, inside its interval, and saying when it
# lies outside the training range ------------------------------------------------------------


def answer_for(item: dict) -> services.Answer:
    [answer] = services.predict(inputs=[item], raw_inputs=[item], info=info())
    return answer


def computed_by_the_model(version: ModelVersion, item: dict) -> float:
    """What the version's own numbers compute for `item`, below zero or not."""
    parameters = version.parameters
    coefficients = parameters["coefficients"]
    return (
        item["likes"] * coefficients["likes"]
        + item["shares"] * coefficients["shares"]
        + parameters["intercept"]
    )


def test_the_model_s_figure_below_zero_is_served_as_zero_and_the_row_keeps_the_figure(
    below_zero_model,
):
    computed = computed_by_the_model(below_zero_model, BELOW_RANGE)
    assert computed < -10_000  # the plane, far under its data

    answer = answer_for(BELOW_RANGE)

    assert answer.views == 0.0
    assert answer.views_lower == 0.0
    assert answer.views_upper > 0.0
    record = PredictionRequest.objects.get()
    # The trail says what the model computed; the rule says what was served.
    assert record.views == answer.computed_views == pytest.approx(computed, abs=0.01)
    assert services.served_views(record.views) == answer.views
    assert (record.views_lower, record.views_upper) == (answer.views_lower, answer.views_upper)


def test_an_answer_inside_the_range_is_the_model_s_own_figure(below_zero_model):
    answer = answer_for(INSIDE_RANGE)

    computed = computed_by_the_model(below_zero_model, INSIDE_RANGE)
    assert answer.views == answer.computed_views == pytest.approx(computed, abs=0.01)
    assert PredictionRequest.objects.get().views == answer.views
    assert not answer.extrapolated
    assert answer.extrapolation == ""


def test_every_answer_is_at_least_zero_and_inside_its_interval_across_the_form_s_bounds(
    below_zero_model,
):
    counts = [0, 1, 10, 80, 100, 299, 300, 301, 1500, 2000, 3000, 3001, 19_999, 20_000]
    inputs = [{"likes": likes, "shares": shares} for likes in counts for shares in counts]

    answers = services.predict(inputs=inputs, raw_inputs=inputs, info=info(), batch=True)

    assert any(answer.computed_views < 0 for answer in answers)
    for answer in answers:
        assert 0.0 <= answer.views_lower <= answer.views <= answer.views_upper, answer
        assert answer.views == services.served_views(answer.computed_views)


def test_an_interval_s_ends_are_those_of_the_served_answer(below_zero_model):
    version = below_zero_model
    answer = answer_for(BELOW_RANGE)
    # At 0 the interval is the one of the version's scale floor, from 0.
    half_width = version.interval_relative_half_width * version.interval_scale_floor
    assert answer.views_upper == pytest.approx(half_width, abs=0.01)


def test_an_answer_outside_the_range_says_which_input_and_the_range_in_either_language(
    below_zero_model,
):
    answer = answer_for({"likes": 80, "shares": 800})

    assert answer.extrapolated
    assert PredictionRequest.objects.get().extrapolated
    assert answer.extrapolation == (
        "80 likes is below the range the model was trained on (300 to 3,000), so this "
        "prediction is an extrapolation and may be off."
    )
    with translation.override("zh-hans"):
        assert answer.extrapolation == (
            "点赞数 80 低于训练数据的范围（300 至 3,000），这个预测是外推的，可能不准。"
        )


def test_each_input_outside_the_range_is_named_above_or_below(below_zero_model):
    below = answer_for(BELOW_RANGE).extrapolation
    assert below.startswith("10 likes is below the range the model was trained on (300 to 3,000)")
    assert " and 5 shares is below the range the model was trained on (100 to 2,000), so " in below

    above = answer_for(ABOVE_RANGE).extrapolation
    assert above.startswith("20,000 likes is above the range the model was trained on")
    assert "20,000 shares is above the range the model was trained on (100 to 2,000)" in above
    with translation.override("zh-hans"):
        assert answer_for(ABOVE_RANGE).extrapolation == (
            "点赞数 20,000 高于训练数据的范围（300 至 3,000），"
            "转发数 20,000 高于训练数据的范围（100 至 2,000），这个预测是外推的，可能不准。"
        )


def test_the_ends_of_the_range_are_inside_it(below_zero_model):
    assert answer_for({"likes": 300, "shares": 2000}).extrapolation == ""
    assert answer_for({"likes": 3000, "shares": 100}).extrapolation == ""


def test_a_version_without_recorded_ranges_says_nothing_about_them(below_zero_model):
    ModelVersion.objects.filter(pk=below_zero_model.pk).update(training_summary={})
    registry.clear_loaded_models()
    version = ModelVersion.objects.get(pk=below_zero_model.pk)
    assert services.extrapolation_sentence(version, (10, 5)) == ""
