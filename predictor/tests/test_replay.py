"""Replay: a stored candidate judged on the answers the active version served, with a trail whose
truth is known. The outcomes follow exact_views plus normal noise of a known spread; the active
version over-predicts by a known amount, one candidate is exact (known better), one
over-predicts by far more (known worse), and one under-predicts by as much as the active one
over-predicts (known to be neither). The true mean paired difference is computed in closed form
from the same inputs, and each confidence interval must cover it."""

import math
import re
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone, translation

from predictor import display, features, services
from predictor.models import Channel, ModelVersion, Outcome, PredictionRequest, ReplayRun
from predictor.services import registry
from predictor.services.outcomes import OutcomeItem
from predictor.services.predictors import LinearPredictor
from predictor.services.replay import (
    MEDIAN_BIN,
    MIN_OUTCOMES,
    ReplayRefused,
    Verdict,
    hundredths,
    latest_replay,
    replay,
    replay_predictor,
    store_replay,
)

from .conftest import exact_views, linear_rows, write_csv
from .test_cards import get_card

NOISE_SD = 5000.0
INCUMBENT_BIAS = 4000
WORSE_BIAS = 12_000
API = services.RequestInfo(channel=Channel.API)


def biased(bias: int):
    def relation(likes: int, shares: int) -> int:
        return exact_views(likes, shares) + bias

    return relation


def inputs(count: int, *, seed: int = 3) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {"likes": int(likes), "shares": int(shares)}
        for likes, shares in zip(
            rng.integers(100, 3000, size=count), rng.integers(50, 2000, size=count), strict=True
        )
    ]


def served_for(asked: list[dict]) -> list[PredictionRequest]:
    answers = services.predict(inputs=asked, raw_inputs=asked, info=API)
    stored = PredictionRequest.objects.in_bulk([answer.pk for answer in answers])
    return [stored[answer.pk] for answer in answers]


def record_real_views(requests: list[PredictionRequest], *, seed: int = 5) -> list[int]:
    """Outcomes from the true relation with normal noise; returns the real views."""
    rng = np.random.default_rng(seed)
    real = [
        max(0, round(exact_views(row.likes, row.shares) + noise))
        for row, noise in zip(requests, rng.normal(0, NOISE_SD, size=len(requests)), strict=True)
    ]
    services.record_outcomes(
        [OutcomeItem(row.pk, views) for row, views in zip(requests, real, strict=True)],
        source=Outcome.Source.IMPORT,
    )
    return real


def expected_miss(offset: np.ndarray) -> np.ndarray:
    """E|offset − e| for e ~ N(0, NOISE_SD): the mean absolute error of an answer `offset`
    above the true relation."""
    from scipy import stats

    z = offset / NOISE_SD
    return NOISE_SD * math.sqrt(2 / math.pi) * np.exp(-(z**2) / 2) + offset * (
        1 - 2 * stats.norm.cdf(-z)
    )


def would_serve(version: ModelVersion, rows) -> np.ndarray:
    """What `version` would have answered, as services.predict serves an answer."""
    predicted = registry.load_predictor(version).predict(rows)
    return np.array([features.served_views(round(figure, 2)) for figure in predicted])


def fitted_offset(version: ModelVersion, asked: list[dict]) -> np.ndarray:
    """How far above the true relation `version` answers each input (its fit is near exact)."""
    rows = [[item["likes"], item["shares"]] for item in asked]
    truth = np.array([exact_views(item["likes"], item["shares"]) for item in asked], dtype=float)
    return np.array(registry.load_predictor(version).predict(rows)) - truth


@pytest.fixture
def versions(db, tmp_path, trained_models):
    """v1 over-predicts by INCUMBENT_BIAS and is active; v2 exact, v3 over by WORSE_BIAS, v4
    under by INCUMBENT_BIAS: stored, not active."""

    def stored(name: str, bias: int, *, activate: bool) -> ModelVersion:
        path = write_csv(tmp_path / f"{name}.csv", linear_rows(relation=biased(bias)))
        return trained_models.store(path, activate=activate)

    incumbent = stored("incumbent", INCUMBENT_BIAS, activate=True)
    better = stored("exact", 0, activate=False)
    worse = stored("far-above", WORSE_BIAS, activate=False)
    mirrored = stored("below", -INCUMBENT_BIAS, activate=False)
    registry.clear_loaded_models()
    return incumbent, better, worse, mirrored


@pytest.fixture
def trail(versions):
    """200 answers of the active version with their real views recorded, and 40 without."""
    asked = inputs(240)
    requests = served_for(asked)
    real = record_real_views(requests[:200])
    return asked[:200], requests, real


def true_difference(candidate: ModelVersion, incumbent: ModelVersion, asked) -> float:
    return float(
        np.mean(
            expected_miss(fitted_offset(candidate, asked))
            - expected_miss(fitted_offset(incumbent, asked))
        )
    )


def test_a_candidate_known_to_be_better_is_called_better_and_its_interval_covers_the_truth(
    versions, trail
):
    incumbent, better, _worse, _mirrored = versions
    asked, _requests, _real = trail

    report = replay(better)

    truth = true_difference(better, incumbent, asked)
    assert truth < -1000  # what the trail was built to be
    assert report.verdict == Verdict.BETTER
    assert report.outcomes == 200
    assert report.ci_low <= truth <= report.ci_high
    assert report.ci_high < 0


def test_a_candidate_known_to_be_worse_is_called_worse_and_its_interval_covers_the_truth(
    versions, trail
):
    incumbent, _better, worse, _mirrored = versions
    asked, _requests, _real = trail

    report = replay(worse)

    truth = true_difference(worse, incumbent, asked)
    assert truth > 5000
    assert report.verdict == Verdict.WORSE
    assert report.ci_low <= truth <= report.ci_high
    assert report.ci_low > 0


def test_a_candidate_as_far_below_as_the_active_one_is_above_is_not_distinguishable(
    versions, trail
):
    incumbent, _better, _worse, mirrored = versions
    asked, _requests, _real = trail

    report = replay(mirrored)

    truth = true_difference(mirrored, incumbent, asked)
    assert abs(truth) < 50
    assert report.verdict == Verdict.NOT_DISTINGUISHABLE
    assert report.ci_low <= truth <= report.ci_high


def test_a_candidate_that_answers_as_the_active_one_shows_no_change_and_no_difference(
    versions, trail, tmp_path, trained_models
):
    same = trained_models.store(
        write_csv(tmp_path / "incumbent.csv", linear_rows(relation=biased(INCUMBENT_BIAS))),
        activate=False,
    )

    report = replay(same)

    assert (report.median_change, report.moved, report.higher, report.lower) == (0.0, 0, 0, 0)
    assert (report.mean_difference, report.ci_low, report.ci_high) == (0.0, 0.0, 0.0)
    assert report.verdict == Verdict.NOT_DISTINGUISHABLE


def test_the_error_figures_are_the_paired_differences_of_the_served_answers(versions, trail):
    _incumbent, better, _worse, _mirrored = versions
    asked, requests, real = trail
    from scipy import stats

    report = replay(better)

    rows = [[item["likes"], item["shares"]] for item in asked]
    candidate = would_serve(better, rows)
    served = np.array([row.served_views for row in requests[:200]])
    candidate_miss, served_miss = np.abs(candidate - real), np.abs(served - real)
    difference = candidate_miss - served_miss
    margin = stats.t.ppf(0.975, 199) * np.std(difference, ddof=1) / math.sqrt(200)
    assert report.mean_difference == pytest.approx(np.mean(difference), rel=1e-9)
    assert (report.ci_low, report.ci_high) == pytest.approx(
        (np.mean(difference) - margin, np.mean(difference) + margin), rel=1e-9
    )
    assert report.candidate_mae == pytest.approx(np.mean(candidate_miss), rel=1e-9)
    assert report.incumbent_mae == pytest.approx(np.mean(served_miss), rel=1e-9)


def test_the_answers_figures_compare_each_served_answer_with_the_candidates(versions, trail):
    _incumbent, _better, worse, _mirrored = versions
    _asked, requests, _real = trail

    report = replay(worse)

    rows = [[row.likes, row.shares] for row in requests]
    candidate = would_serve(worse, rows)
    served = np.array([row.served_views for row in requests])
    change = (candidate - served) / np.maximum(served, 1)
    lower = np.array([row.views_lower for row in requests])
    upper = np.array([row.views_upper for row in requests])
    assert report.requests == 240
    assert report.through_id == max(row.pk for row in requests)
    assert report.higher == int(np.sum(change > 0))
    assert report.lower == int(np.sum(change < 0))
    assert report.moved == int(np.sum(np.abs(change) > 0.1))
    assert 0 < report.moved < 240  # the small articles move by more than a tenth, the large not
    assert report.with_interval == 240
    assert report.outside == int(np.sum((candidate < lower) | (candidate > upper)))
    assert abs(report.median_change - np.median(np.abs(change))) <= MEDIAN_BIN
    at = int(np.argmax(np.abs(change)))
    assert report.largest_change == pytest.approx(change[at], rel=1e-12)
    assert report.largest_change_id == requests[at].pk


def test_small_chunks_give_the_figures_of_one_big_chunk(versions, trail):
    _incumbent, better, _worse, _mirrored = versions

    whole = replay(better, chunk_size=100_000).figures()
    chunked = replay(better, chunk_size=7).figures()

    assert chunked.keys() == whole.keys()
    for name, value in whole.items():
        if isinstance(value, float):
            assert chunked[name] == pytest.approx(value, rel=1e-9), name
        else:
            assert chunked[name] == value, name


def test_a_trail_without_outcomes_gives_no_interval_and_no_verdict(versions):
    _incumbent, better, _worse, _mirrored = versions
    served_for(inputs(20))

    report = replay(better)

    assert report.requests == 20
    assert report.outcomes == 0
    assert report.verdict == Verdict.NO_OUTCOMES
    assert (report.mean_difference, report.ci_low, report.ci_high) == (None, None, None)


def test_fewer_outcomes_than_the_minimum_give_an_interval_but_no_verdict(versions):
    _incumbent, better, _worse, _mirrored = versions
    requests = served_for(inputs(MIN_OUTCOMES + 5))
    record_real_views(requests[: MIN_OUTCOMES - 1])

    report = replay(better)

    assert report.outcomes == MIN_OUTCOMES - 1
    assert report.verdict == Verdict.TOO_FEW
    assert report.ci_low < report.ci_high


def test_only_the_latest_outcome_of_a_prediction_counts(versions):
    _incumbent, better, _worse, _mirrored = versions
    requests = served_for(inputs(3))
    record_real_views(requests, seed=1)
    real = record_real_views(requests, seed=2)

    report = replay(better)

    rows = [[row.likes, row.shares] for row in requests]
    candidate = would_serve(better, rows)
    served = np.array([row.served_views for row in requests])
    assert report.outcomes == 3
    assert report.mean_difference == pytest.approx(
        np.mean(np.abs(candidate - real) - np.abs(served - real)), rel=1e-9
    )


def test_only_the_active_versions_served_answers_since_the_date_are_replayed(versions):
    incumbent, better, worse, _mirrored = versions
    services.predict(
        inputs=[{"likes": 5, "shares": 5}],
        raw_inputs=[{"likes": 5, "shares": 5}],
        info=services.RequestInfo(channel=Channel.PREVIEW),
    )
    services.record_refusal(raw_inputs=[{"likes": "x"}], errors=[{"likes": ["bad"]}], info=API)
    served_for(inputs(4))
    since = timezone.now()
    newer = served_for(inputs(3, seed=9))
    services.activate(version=worse, door="command")
    served_for(inputs(5))  # answered by v3
    services.activate(version=incumbent, door="command")

    assert replay(better).requests == 7
    report = replay(better, since=since)
    assert report.requests == 3
    assert report.since == since
    assert report.through_id == newer[-1].pk


def test_the_active_version_cannot_be_its_own_candidate(versions):
    incumbent, *_ = versions

    with pytest.raises(ReplayRefused, match="v1 is the active version"):
        replay(incumbent)


def test_with_no_active_version_there_is_nothing_to_replay(db, tmp_path, trained_models):
    stored = trained_models.store(write_csv(tmp_path / "only.csv", linear_rows()), activate=False)

    with pytest.raises(ReplayRefused, match="No version is active"):
        replay(stored)


def test_a_trail_with_no_served_answer_gives_empty_figures(versions):
    _incumbent, better, _worse, _mirrored = versions

    report = replay(better)

    assert (report.requests, report.through_id, report.median_change) == (0, None, None)
    assert report.verdict == Verdict.NO_OUTCOMES


def test_a_stored_run_reads_back_as_the_same_report(versions, trail):
    incumbent, better, _worse, _mirrored = versions
    report = replay(better)

    run = store_replay(report)
    again = latest_replay(better)

    assert ReplayRun.objects.get() == run
    assert str(run) == f"v2 replayed against v1, {display.when(run.computed_at)}"
    assert (again.candidate, again.incumbent) == (better, incumbent)
    assert again.through_id == run.through_id
    assert again.figures() == report.figures()
    assert again.verdict == Verdict.BETTER
    assert latest_replay(incumbent) is None


# --- The model card ---------------------------------------------------------------------------


def test_the_card_shows_the_latest_stored_run_in_english(client, versions, trail):
    _incumbent, better, _worse, _mirrored = versions
    report = replay(better)
    store_replay(report)

    page = get_card(client, better, "en")

    with translation.override("en"):
        assert display.count(report.requests) in page.text("replay-when")
        assert f"the {report.requests} requests that v1 answered" in page.text("replay-when")
        assert page.text("replay-verdict").startswith("Verdict: better")
        assert display.count(report.difference_size) in page.text("replay-verdict")
        assert display.count(report.ci_low) in page.text("replay-errors")
        assert display.percent(report.share_moved) in page.text("replay-answers")
    assert not page.has("replay-none")


def test_the_card_shows_the_latest_stored_run_in_chinese(client, versions, trail):
    _incumbent, _better, worse, _mirrored = versions
    store_replay(replay(worse))

    page = get_card(client, worse, "zh-hans")

    assert "v1" in page.text("replay-when")
    assert "结论" in page.text("replay-verdict")
    assert "更差" in page.text("replay-verdict")
    assert not re.search("[A-Za-z]{4,}", page.text("replay").replace(display.zone(), ""))


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_card_says_plainly_when_no_real_views_were_reported(client, versions, language):
    _incumbent, better, _worse, _mirrored = versions
    served_for(inputs(5))
    store_replay(replay(better))

    page = get_card(client, better, language)

    assert page.has("replay-no-outcomes")
    assert not page.has("replay-verdict")


def test_a_card_without_a_run_says_how_to_run_one_and_the_active_ones_says_nothing(
    client, versions
):
    incumbent, better, _worse, _mirrored = versions

    assert "manage.py replay v2" in get_card(client, better, "en").text("replay-none")
    assert "manage.py replay v2" in get_card(client, better, "zh-hans").text("replay-none")
    assert not get_card(client, incumbent, "en").has("replay")


# --- The commands -----------------------------------------------------------------------------


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_the_replay_command_prints_the_figures_and_keeps_the_run(versions, trail):
    _incumbent, better, _worse, _mirrored = versions

    output = run("replay", "v2")

    report = latest_replay(better)
    assert ReplayRun.objects.count() == 1
    assert "Replay of v2 on the 240 answers v1 served:" in output
    assert f"{display.percent(report.share_moved)} ({report.moved} of 240)" in output
    assert "Real views recorded for 200 of them" in output
    assert "95% confidence interval" in output
    assert "Verdict: v2 is better than v1 on real views." in output


def test_the_replay_command_speaks_chinese(versions, trail):
    output = run("replay", "v3", "--language", "zh-hans")

    assert "v3" in output
    assert "v1" in output
    assert "更差" in output
    assert "Verdict" not in output


def test_the_replay_command_on_a_trail_without_outcomes_says_so_plainly(versions):
    served_for(inputs(5))

    output = run("replay", "v2")

    assert "No real views have been recorded for these answers" in output
    assert "Verdict" not in output


def test_the_replay_command_on_an_empty_trail_says_there_is_nothing_to_compare(versions):
    output = run("replay", "v2", "--since", "2026-01-01")

    assert "v1 served no answer here, so there is nothing to compare." in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("v9",), "There is no version v9"),
        (("latest",), "is not a version"),
        (("v1",), "v1 is the active version"),
        (("v2", "--since", "last week"), "is not a date"),
    ],
)
def test_the_replay_command_refuses_what_it_cannot_replay_plainly(versions, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("replay", *args, stdout=StringIO())
    assert not ReplayRun.objects.exists()


def test_activate_prints_the_replay_before_switching(versions, trail):
    output = run("activate", "v3")

    replayed, switched = output.index("Replay of v3"), output.index("Model v3 is now active.")
    assert replayed < switched
    assert "Verdict: v3 is worse than v1 on real views." in output
    assert services.active_version().number == 3
    assert latest_replay(ModelVersion.objects.get(number=3)).incumbent.number == 1


def test_activate_without_replay_switches_at_once(versions, trail):
    assert run("activate", "v2", "--no-replay") == "Model v2 is now active.\n"
    assert not ReplayRun.objects.exists()


def test_retrain_with_the_replay_gate_refuses_a_worse_candidate(versions, trail, tmp_path):
    data = write_csv(tmp_path / "worse.csv", linear_rows(relation=biased(WORSE_BIAS)))
    out = StringIO()

    with pytest.raises(CommandError, match="misses by"):
        call_command("retrain", "--data", str(data), "--gate", "replay", stdout=out)

    assert "Verdict: the candidate is worse than v1 on real views." in out.getvalue()
    assert "Quality gate: failed" in out.getvalue()
    assert ModelVersion.objects.count() == 4
    assert services.active_version().number == 1


def test_retrain_with_the_replay_gate_activates_a_better_candidate_and_keeps_its_run(
    versions, trail, tmp_path
):
    data = write_csv(tmp_path / "exact.csv", linear_rows())

    output = run("retrain", "--data", str(data), "--gate", "replay")

    assert "Verdict: v5 is better than v1 on real views." in output
    assert "Model v5 stored and activated" in output
    stored = latest_replay(ModelVersion.objects.get(number=5))
    assert (stored.incumbent.number, stored.outcomes, stored.verdict) == (1, 200, Verdict.BETTER)


def test_retrain_with_the_replay_gate_and_too_few_outcomes_uses_the_cv_gate(versions, tmp_path):
    record_real_views(served_for(inputs(MIN_OUTCOMES - 1)))
    data = write_csv(tmp_path / "worse.csv", linear_rows(relation=biased(WORSE_BIAS)))

    output = run("retrain", "--data", str(data), "--gate", "replay")

    assert f"only {MIN_OUTCOMES - 1} of v1's answers have a real view count" in output
    assert "Model v5 stored and activated" in output
    assert not ReplayRun.objects.exists()


def test_a_candidate_that_answers_with_no_number_is_refused_not_counted(versions):
    incumbent, *_ = versions
    served_for(inputs(3))
    broken = LinearPredictor([math.inf, 0.0], 0.0)

    with pytest.raises(services.ModelUnavailable, match="non-finite"):
        replay_predictor(broken, candidate=None, incumbent=incumbent)


def test_a_candidates_figures_are_rounded_as_every_served_answer_is():
    rng = np.random.default_rng(1)
    halves = (np.arange(-5000, 5000) + 0.5) / 100  # x.xx5: where rounding can go either way
    figures = np.concatenate([rng.uniform(-1e4, 1e9, 20_000), halves, halves * 1e4 + 0.005])

    assert hundredths(figures).tolist() == [round(figure, 2) for figure in figures.tolist()]
