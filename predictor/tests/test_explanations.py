"""services.explanations: an answer's parts add up to the answer served, to the cent."""

import pytest
from django.utils import translation

from predictor import services
from predictor.models import ModelVersion

from .conftest import ABOVE_RANGE, BELOW_RANGE, INSIDE_RANGE, noisy_rows, write_csv

INPUTS = [INSIDE_RANGE, BELOW_RANGE, ABOVE_RANGE, {"likes": 0, "shares": 0}]


def info():
    return services.RequestInfo(channel="api", client_ip="203.0.113.9", user_agent="pytest")


def served(inputs):
    return services.predict(inputs=inputs, raw_inputs=inputs, info=info(), batch=True)


def adds_up(waterfall) -> float:
    return round(waterfall.start + sum(step.amount for step in waterfall.steps), 2)


def test_both_waterfalls_add_up_to_the_answer_served_to_the_cent(below_zero_model):
    answers = served(INPUTS)

    explanations = services.explain_answers(answers)

    for answer, explanation in zip(answers, explanations, strict=True):
        assert explanation.linear
        assert explanation.answer == answer.views
        assert explanation.computed == answer.computed_views
        for waterfall in (explanation.from_intercept, explanation.from_average):
            assert adds_up(waterfall) == round(answer.views, 2)
            assert waterfall.answer == answer.views


def test_from_the_intercept_each_part_is_its_coefficient_times_its_value(below_zero_model):
    coefficients = below_zero_model.parameters["coefficients"]

    explanation = services.explain(below_zero_model, **INSIDE_RANGE)

    waterfall = explanation.from_intercept
    assert waterfall.start == round(below_zero_model.parameters["intercept"], 2)
    assert not waterfall.from_average
    assert [step.feature.name for step in waterfall.steps] == ["likes", "shares"]
    for step in waterfall.steps:
        exact = coefficients[step.feature.name] * INSIDE_RANGE[step.feature.name]
        assert step.value == INSIDE_RANGE[step.feature.name]
        assert step.coefficient == pytest.approx(coefficients[step.feature.name])
        # Rounded through running totals: within a cent of the exact part.
        assert abs(step.amount - exact) <= 0.0100001
    # The parts added in plain floats land within a cent of the predictor's own figure.
    exact_sum = below_zero_model.parameters["intercept"] + sum(
        coefficients[name] * value for name, value in INSIDE_RANGE.items()
    )
    assert abs(exact_sum - explanation.computed) < 0.01


def test_from_the_average_it_starts_at_the_average_prediction_and_steps_by_the_distance_to_the_mean(
    below_zero_model,
):
    parameters = below_zero_model.parameters
    columns = below_zero_model.training_summary["columns"]
    means = {name: columns[name]["mean"] for name in ("likes", "shares")}
    average = parameters["intercept"] + sum(
        parameters["coefficients"][name] * means[name] for name in means
    )

    waterfall = services.explain(below_zero_model, **INSIDE_RANGE).from_average

    assert waterfall.from_average
    assert waterfall.start == pytest.approx(average, abs=0.01)
    for step in waterfall.steps:
        name = step.feature.name
        assert step.mean == pytest.approx(means[name])
        exact = parameters["coefficients"][name] * (INSIDE_RANGE[name] - means[name])
        assert abs(step.amount - exact) <= 0.0100001


def test_an_answer_computed_below_zero_ends_with_the_step_that_serves_it_as_zero(
    below_zero_model,
):
    explanation = services.explain(below_zero_model, **BELOW_RANGE)

    assert explanation.computed < 0
    assert explanation.answer == 0.0
    for waterfall in (explanation.from_intercept, explanation.from_average):
        *parts, floor = waterfall.steps
        assert floor.is_floor
        assert parts[-1].total == explanation.computed
        assert floor.amount == round(-explanation.computed, 2)
        assert floor.total == 0.0
        assert adds_up(waterfall) == 0.0


def test_an_answer_at_or_above_zero_has_no_floor_step(below_zero_model):
    explanation = services.explain(below_zero_model, **INSIDE_RANGE)

    assert not any(step.is_floor for step in explanation.shown.steps)
    assert explanation.shown.steps[-1].total == explanation.computed == explanation.answer


def test_explaining_from_the_version_gives_what_the_answer_carried(below_zero_model):
    [answer] = served([BELOW_RANGE])

    fresh = services.explain(below_zero_model, **BELOW_RANGE)

    assert fresh == services.explain_answers([answer])[0]


def test_a_version_without_training_means_is_explained_from_the_intercept_alone(
    below_zero_model,
):
    ModelVersion.objects.filter(pk=below_zero_model.pk).update(training_summary={})
    version = ModelVersion.objects.get(pk=below_zero_model.pk)

    explanation = services.explain(version, **INSIDE_RANGE)

    assert explanation.from_average is None
    assert explanation.shown is explanation.from_intercept
    assert adds_up(explanation.shown) == explanation.answer


@pytest.mark.parametrize("algorithm", ["hist-gb", "log-linear"])
def test_a_version_that_is_not_linear_says_so_and_gives_no_parts(
    db, tmp_path, trained_models, algorithm
):
    data = write_csv(tmp_path / "noisy.csv", noisy_rows())
    version = trained_models.store(data, algorithm=algorithm)

    explanation = services.explain(version, **INSIDE_RANGE)

    assert not explanation.linear
    assert explanation.from_intercept is None
    assert explanation.from_average is None
    assert explanation.shown is None
    assert explanation.answer == round(services.served_views(explanation.computed), 2)
    assert version.label in explanation.not_linear
    with translation.override("zh-hans"):
        assert "猜" in explanation.not_linear


@pytest.mark.parametrize(
    ("text", "flag"),
    [(None, False), ("", False), ("0", False), ("false", False), ("1", True), ("True", True)],
)
def test_the_explain_flag_reads_yes_and_no(text, flag):
    assert services.read_explain_flag(text) is flag


def test_the_explain_flag_refuses_anything_else_and_names_it():
    with pytest.raises(services.ExplainFlagRefused) as refused:
        services.read_explain_flag("maybe")

    assert refused.value.refusal.stored() == {"code": "explain_flag", "params": {"value": "maybe"}}
    assert "“maybe”" in str(refused.value)


# --- Ridge: linear, served by its pipeline --------------------------------------------------------


def test_a_ridge_version_is_explained_as_linear_and_adds_up_to_the_answer_to_the_cent(
    ridge_model,
):
    answers = served(INPUTS)

    explanations = services.explain_answers(answers)

    assert any(answer.computed_views < 0 for answer in answers)  # the floor is covered too
    for answer, explanation in zip(answers, explanations, strict=True):
        assert explanation.linear
        assert explanation.not_linear == ""
        assert explanation.computed == answer.computed_views
        assert explanation.answer == answer.views
        for waterfall in (explanation.from_intercept, explanation.from_average):
            assert adds_up(waterfall) == round(answer.views, 2)
            inputs = [step for step in waterfall.steps if not step.is_floor]
            # The last input's total is the pipeline's own figure, not the equation's sum.
            assert inputs[-1].total == answer.computed_views


def test_a_ridge_version_s_parts_are_in_the_data_s_units_as_its_parameters_record_them(
    ridge_model,
):
    parameters = ridge_model.parameters
    coefficients = parameters["coefficients"]

    explanation = services.explain(ridge_model, **INSIDE_RANGE)

    waterfall = explanation.from_intercept
    assert waterfall.start == round(parameters["intercept"], 2)
    for step in waterfall.steps:
        name = step.feature.name
        assert step.coefficient == coefficients[name]
        assert abs(step.amount - coefficients[name] * INSIDE_RANGE[name]) <= 0.0100001
    exact_sum = parameters["intercept"] + sum(
        coefficients[name] * value for name, value in INSIDE_RANGE.items()
    )
    assert abs(exact_sum - explanation.computed) < 0.01
    # On standardised inputs the average article is all zeros: its prediction is the intercept.
    ridge = services.load_model(ridge_model)[-1]
    assert explanation.from_average.start == pytest.approx(float(ridge.intercept_), abs=0.01)


def test_a_ridge_version_is_explained_from_its_verified_estimator_not_its_parameters(
    ridge_model,
):
    truthful = services.explain(ridge_model, **INSIDE_RANGE)
    # `parameters` is for people and not signed: whoever can write the database can change it.
    altered = {**ridge_model.parameters, "coefficients": {"likes": 1000.0, "shares": -1000.0}}
    ModelVersion.objects.filter(pk=ridge_model.pk).update(parameters=altered)
    version = ModelVersion.objects.get(pk=ridge_model.pk)

    explanation = services.explain(version, **INSIDE_RANGE)

    assert explanation.from_intercept == truthful.from_intercept
    assert [step.coefficient for step in explanation.from_intercept.steps] == [
        ridge_model.parameters["coefficients"][name] for name in ("likes", "shares")
    ]


def test_a_version_whose_algorithm_name_does_not_match_its_estimator_is_not_split(
    db, tmp_path, trained_models
):
    # The row's algorithm name is not signed: a log-linear artifact called "ridge" is no line.
    data = write_csv(tmp_path / "noisy.csv", noisy_rows())
    stored = trained_models.store(data, algorithm="log-linear")
    ModelVersion.objects.filter(pk=stored.pk).update(algorithm_name="ridge", parameters={})
    version = ModelVersion.objects.get(pk=stored.pk)

    explanation = services.explain(version, **INSIDE_RANGE)

    assert not explanation.linear
    assert explanation.answer == round(services.served_views(explanation.computed), 2)


def test_explaining_a_ridge_answer_reads_nothing_more(ridge_model, django_assert_num_queries):
    answers = served([INSIDE_RANGE, BELOW_RANGE])

    # From the estimator that answered: no file read, no verification, no query.
    with django_assert_num_queries(0):
        explanations = services.explain_answers(answers)

    assert all(explanation.linear for explanation in explanations)
