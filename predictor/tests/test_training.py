import hashlib
from functools import partial

import numpy as np
import pytest
import sklearn

from predictor import services
from predictor.models import Activation, ModelFile, ModelVersion, Outcome
from predictor.services import registry, training
from predictor.services.algorithms import ALGORITHMS

from .conftest import linear_rows, noisy_rows, replace_stored_file, write_csv


def test_retrain_recovers_a_known_linear_relation_and_records_its_provenance(db, linear_csv):
    report = services.retrain(data_path=linear_csv)

    version = report.version
    assert version.number == 1
    assert version.is_active
    assert version.activated_at is not None
    assert report.parameters["coefficients"] == pytest.approx({"likes": 80.0, "shares": 60.0})
    assert report.parameters["intercept"] == pytest.approx(1000.0)
    assert version.cv_r2 == pytest.approx(1.0)
    assert version.cv_mae == pytest.approx(0.0, abs=1e-6)
    assert version.cv_folds == 5
    assert version.training_rows == 40
    assert version.features == ["likes", "shares"]
    assert version.sklearn_version == sklearn.__version__
    assert version.data_file_name == "linear.csv"
    assert len(version.data_sha256) == 64
    assert ModelFile.objects.filter(version=version, name=version.artifact_name).exists()


def test_each_retrain_is_a_new_version_and_the_newest_is_active(db, linear_csv):
    first = services.retrain(data_path=linear_csv).version
    second = services.retrain(data_path=linear_csv).version

    first.refresh_from_db()
    assert (first.number, second.number) == (1, 2)
    assert not first.is_active
    assert second.is_active
    assert ModelVersion.objects.filter(is_active=True).count() == 1


def test_a_candidate_under_the_r2_floor_is_refused_and_nothing_is_written(db, tmp_path, settings):
    settings.VIEWSITE_MIN_R2 = 0.5
    noise = [(a, b, (a * 7919 + b * 104729) % 5000) for a, b, _ in linear_rows()]
    path = write_csv(tmp_path / "noise.csv", noise)

    with pytest.raises(services.QualityGateRefused, match=r"below the minimum 0\.5000") as refused:
        services.retrain(data_path=path)

    assert refused.value.report.cv.r2 < 0.5
    assert ModelVersion.objects.count() == 0
    assert ModelFile.objects.count() == 0


def test_a_candidate_clearly_worse_than_the_active_model_is_refused(db, linear_csv, tmp_path):
    active = services.retrain(data_path=linear_csv).version
    # The same articles, four of them with wildly wrong view counts: a model fitted to this
    # generalises worse than the active model does on the very same rows.
    shifts = {3: 60_000, 11: -50_000, 25: 55_000, 33: -60_000}
    corrupted = [(a, b, v + shifts.get(i, 0)) for i, (a, b, v) in enumerate(linear_rows())]
    path = write_csv(tmp_path / "corrupted.csv", corrupted)

    with pytest.raises(
        services.QualityGateRefused, match="below the active model v1's R²"
    ) as refused:
        services.retrain(data_path=path)

    report = refused.value.report
    assert report.cv.r2 < report.active_metrics.r2 - 0.05
    active.refresh_from_db()
    assert active.is_active
    assert ModelVersion.objects.count() == 1


def test_force_stores_and_activates_a_refused_candidate(db, linear_csv, settings):
    settings.VIEWSITE_MIN_R2 = 1.5  # unreachable
    report = services.retrain(data_path=linear_csv, force=True)
    assert not report.gate_passed
    assert report.activated


def test_dry_run_reports_but_stores_nothing(db, linear_csv):
    report = services.retrain(data_path=linear_csv, dry_run=True)
    assert report.version is None
    assert report.cv.r2 == pytest.approx(1.0)
    assert ModelVersion.objects.count() == 0


def test_no_activate_stores_the_version_but_keeps_serving_the_active_one(db, linear_csv):
    active = services.retrain(data_path=linear_csv).version
    report = services.retrain(data_path=linear_csv, activate=False)
    assert report.version.number == 2
    assert not report.version.is_active
    assert services.active_version() == active


def test_a_bad_file_leaves_the_active_model_as_it_was(db, linear_csv, tmp_path):
    active = services.retrain(data_path=linear_csv).version
    rows = linear_rows()
    rows[7] = (rows[7][0], "lots", rows[7][2])
    with pytest.raises(
        services.DatasetError,
        match=r"bad\.csv: line 9, column 转发数 \(shares\): “lots” is not a whole number\.",
    ):
        services.retrain(data_path=write_csv(tmp_path / "bad.csv", rows))
    assert services.active_version() == active
    assert ModelVersion.objects.count() == 1


def test_a_broken_active_model_does_not_block_a_good_replacement(db, linear_csv):
    active = services.retrain(data_path=linear_csv).version
    replace_stored_file(active.artifact_name, b"tampered")  # seen as by a fresh `retrain` process

    report = services.retrain(data_path=linear_csv)

    assert "does not match the recorded sha256" in report.active_problem
    assert report.activated


# --- Intervals -----------------------------------------------------------------------------------


def test_the_interval_covers_the_stated_share_of_new_data_from_the_known_relation(db, noisy_csv):
    version = services.retrain(data_path=noisy_csv).version
    assert version.interval_coverage == 0.9
    assert 0.85 <= version.cv_interval_coverage <= 0.95

    # Fresh articles from the same relation, never seen in training, answered by the service.
    fresh = noisy_rows(2000, seed=99)
    inputs = [{"likes": likes, "shares": shares} for likes, shares, _ in fresh]
    records = services.predict(
        inputs=inputs, raw_inputs=inputs, info=services.RequestInfo(channel="api"), batch=True
    )

    inside = [
        record.views_lower <= real <= record.views_upper
        for record, (_, _, real) in zip(records, fresh, strict=True)
    ]
    assert 0.87 <= sum(inside) / len(inside) <= 0.93
    # The interval grows with the prediction: errors do.
    widths = {r.views: r.views_upper - r.views_lower for r in records if r.views_lower > 0}
    smallest, largest = min(widths), max(widths)
    assert widths[largest] > 3 * widths[smallest]


def test_the_conformal_quantile_is_the_finite_sample_rank():
    scores = np.arange(1.0, 20.0)  # 19 scores: rank ⌈20 × 0.9⌉ = 18
    assert training.conformal_quantile(scores, 0.9) == 18.0
    assert training.conformal_quantile(np.array([3.0, 1.0, 2.0]), 0.5) == 2.0
    # Too few scores for the coverage asked: the largest.
    assert training.conformal_quantile(np.array([5.0, 1.0]), 0.99) == 5.0


def test_held_out_coverage_judges_each_fold_by_the_others(db):
    target = np.array([100.0] * 10)
    predicted = np.array([100.0] * 9 + [1000.0])  # one row far off, in fold 1
    fold_of = np.array([0] * 5 + [1] * 5)
    interval = training.conformal_interval(target, predicted, fold_of, 0.8)
    # Fold 1's far row is judged by fold 0's scores (all 0), so it is missed: 9 of 10 covered.
    assert interval.held_out_coverage == 0.9


# --- Algorithms ----------------------------------------------------------------------------------


def test_compare_scores_every_algorithm_on_the_same_folds_and_stores_nothing(db, noisy_csv):
    comparison = services.compare(data_path=noisy_csv)

    assert [e.algorithm.name for e in comparison.evaluations] == list(ALGORITHMS)
    shown = [round(e.cv.r2, 3) for e in comparison.evaluations]
    assert round(comparison.best.cv.r2, 3) == max(shown)
    for evaluation in comparison.evaluations:
        assert evaluation.folds == 5
        assert evaluation.predicted.shape == (300,)
        assert 0.8 <= evaluation.interval.held_out_coverage <= 1.0
        assert evaluation.interval.mean_width > 0
        assert evaluation.fit_seconds > 0
    assert ModelVersion.objects.count() == 0


@pytest.mark.parametrize("name", ["ridge", "log-linear", "hist-gb"])
def test_each_algorithm_stores_its_whole_pipeline_and_is_served_through_scikit_learn(
    db, noisy_csv, name
):
    version = services.retrain(data_path=noisy_csv, algorithm=name).version
    registry.clear_loaded_models()  # as a fresh worker

    assert version.algorithm_name == name
    assert version.serving_name == ""  # no JSON shortcut: the verified artifact is unpickled
    estimator = services.load_model(version)
    assert type(estimator) is type(ALGORITHMS[name].build())
    inputs = [{"likes": 500, "shares": 300}, {"likes": 2500, "shares": 1500}]
    records = services.predict(
        inputs=inputs, raw_inputs=inputs, info=services.RequestInfo(channel="api"), batch=True
    )
    expected = estimator.predict(np.array([[500, 300], [2500, 1500]], dtype=float))
    assert [r.views for r in records] == [round(float(v), 2) for v in expected]
    assert all(r.views_lower < r.views < r.views_upper for r in records)


def scored(name: str, r2: float, mae: float, rmse: float) -> training.Evaluation:
    """An evaluation with these scores, as a comparison ranks them (the rest is not read)."""
    return training.Evaluation(
        algorithm=ALGORITHMS[name],
        cv=training.Metrics(r2=r2, mae=mae, rmse=rmse),
        folds=5,
        interval=training.Interval(0.9, 0.4, 1.0, 0.9, 100.0),
        fit_seconds=0.01,
        predicted=np.zeros(1),
    )


@pytest.mark.parametrize(
    ("evaluations", "best", "decided_by"),
    [
        # R² differs where it is shown: R² decides, whatever the MAE says.
        ([("linear", 0.9771, 900, 1200), ("ridge", 0.9764, 800, 1100)], "linear", "r2"),
        # The same R² to three decimals (0.9764 and 0.9761 read 0.976): the lower MAE wins,
        # although the fourth decimal of R² says otherwise.
        ([("linear", 0.9764, 900, 1200), ("ridge", 0.9761, 800, 1300)], "ridge", "mae"),
        # Halves round up, as display.decimal writes them: 0.9765 reads 0.977, above 0.976.
        ([("linear", 0.9765, 900, 1200), ("ridge", 0.9764, 800, 1100)], "linear", "r2"),
        # The same R² and the same MAE in whole views: the lower RMSE wins.
        ([("linear", 0.976, 800.4, 1200), ("ridge", 0.976, 799.6, 1100)], "ridge", "rmse"),
        # A tie on all three goes to the first listed, the simpler algorithm.
        ([("linear", 0.976, 800, 1100), ("ridge", 0.976, 800, 1100)], "linear", "order"),
    ],
)
def test_the_best_is_chosen_by_the_stated_rule_that_a_tie_cannot_flip(
    evaluations, best, decided_by
):
    comparison = training.Comparison(
        data=None, evaluations=[scored(*evaluation) for evaluation in evaluations]
    )
    assert comparison.best.algorithm.name == best
    assert comparison.decided_by == decided_by
    # The order the algorithms are listed in changes nothing but a full tie.
    swapped = training.Comparison(data=None, evaluations=comparison.evaluations[::-1])
    if decided_by != "order":
        assert swapped.best.algorithm.name == best


def test_the_rule_names_the_primary_metric_its_precision_and_the_tie_breaks():
    rule = str(training.BEST_RULE)
    assert "R² to 3 decimals" in rule
    assert rule.index("MAE") < rule.index("RMSE")
    assert training.R2_PLACES == 3


def test_linear_algorithms_record_their_equation_in_the_units_of_the_data(db, linear_csv):
    for name in ("linear", "ridge"):
        parameters = services.retrain(data_path=linear_csv, algorithm=name).parameters
        assert parameters["coefficients"] == pytest.approx(
            {"likes": 80.0, "shares": 60.0}, rel=1e-3
        )
        assert parameters["intercept"] == pytest.approx(1000.0, rel=1e-2)
        assert parameters["scale"] == "views"
    hist = services.retrain(data_path=linear_csv, algorithm="hist-gb", force=True).parameters
    assert "coefficients" not in hist
    assert hist["hyperparameters"]["learning_rate"] == 0.05


def test_an_unknown_algorithm_is_refused_before_anything_is_trained(db, linear_csv):
    with pytest.raises(ValueError, match="choose one of linear, ridge"):
        services.retrain(data_path=linear_csv, algorithm="xgboost")
    assert ModelVersion.objects.count() == 0


# --- Plots, history, outcomes --------------------------------------------------------------------


def test_retrain_stores_the_card_plots_with_their_checksums(db, noisy_csv):
    version = services.retrain(data_path=noisy_csv).version

    # Each plot in each language of the site.
    assert set(version.plots) == {
        f"{name}-{language}"
        for name in ("predicted-vs-actual", "residuals-likes", "residuals-shares")
        for language in ("en", "zh-hans")
    }
    for plot in version.plots.values():
        image = bytes(ModelFile.objects.get(version=version, name=plot["name"]).content)
        assert image.startswith(b"\x89PNG")
        assert hashlib.sha256(image).hexdigest() == plot["sha256"]


def test_retrain_records_each_activation_with_what_it_replaced(db, linear_csv):
    first = services.retrain(data_path=linear_csv).version
    second = services.retrain(data_path=linear_csv).version
    services.retrain(data_path=linear_csv, activate=False)

    history = list(Activation.objects.order_by("pk"))
    assert [(a.version, a.previous, a.door) for a in history] == [
        (first, None, "retrain"),
        (second, first, "retrain"),
    ]
    assert (history[1].reason_code, history[1].reason_parameters) == (
        Activation.Reason.RETRAINED,
        {"algorithm": "linear", "data_file": "linear.csv", "outcome_rows": 0},
    )


def test_include_outcomes_trains_on_the_file_and_the_latest_outcome_of_each_answer(db, linear_csv):
    services.retrain(data_path=linear_csv)
    inputs = [{"likes": 100, "shares": 100}, {"likes": 200, "shares": 50}]
    answered = services.predict(
        inputs=inputs, raw_inputs=inputs, info=services.RequestInfo(channel="api"), batch=True
    )
    [refused_id] = services.record_refusal(
        raw_inputs=[{"likes": -1}],
        errors=[{"likes": ["bad"]}],
        info=services.RequestInfo(channel="api"),
    )
    record = partial(services.record_outcomes, source=Outcome.Source.API)
    record([services.OutcomeItem(answered[0].pk, 1)])
    record(
        [services.OutcomeItem(answered[0].pk, 20_000), services.OutcomeItem(answered[1].pk, 17_000)]
    )

    data = training.training_data(data_path=linear_csv, include_outcomes=True)
    assert (data.file_rows, data.outcome_rows, data.rows) == (40, 2, 42)
    assert data.inputs[-2:].tolist() == [[100.0, 100.0], [200.0, 50.0]]
    assert data.target[-2:].tolist() == [20_000.0, 17_000.0]  # the superseding outcome
    assert refused_id not in {o.prediction_id for o in Outcome.objects.all()}

    version = services.retrain(data_path=linear_csv, include_outcomes=True, force=True).version
    assert version.training_rows == 42
    assert version.training_summary["outcome_rows"] == 2
    assert version.training_summary["last_outcome_id"] == Outcome.objects.order_by("pk").last().pk
    assert Activation.objects.first().reason_parameters["outcome_rows"] == 2


def test_include_outcomes_without_any_outcome_is_refused_and_stores_nothing(db, linear_csv):
    with pytest.raises(services.DatasetError, match="no prediction has a recorded outcome"):
        services.retrain(data_path=linear_csv, include_outcomes=True)
    assert ModelVersion.objects.count() == 0
