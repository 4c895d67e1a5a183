"""Drift (services/drift.py): the served inputs kept at the served checkpoint, the tests chosen
by sample size, and what the card, `manage.py drift` and /metrics say of it."""

import re
from collections import Counter
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from predictor import features, services
from predictor.models import (
    Channel,
    ModelVersion,
    PredictionRequest,
    ServedCheckpoint,
    ServedInputHistogram,
)
from predictor.services import drift, registry, served

from .conftest import noisy_rows, write_csv
from .test_cards import get_card

PREDICTIONS = reverse("predictor:prediction-create")
METRICS = reverse("predictor:metrics")
TOKEN = "metrics-token-for-tests-0123456789abcdef"


def ask(*inputs, channel=Channel.API):
    services.predict(
        inputs=list(inputs),
        raw_inputs=list(inputs),
        info=services.RequestInfo(channel=channel),
        batch=len(inputs) > 1,
    )


def newest_id() -> int:
    return PredictionRequest.objects.latest("pk").pk


def binned_from_the_trail(version) -> dict:
    """Each input's answers per bin and outside the training range, by reading every row."""
    rows = [
        row
        for row in PredictionRequest.objects.order_by("pk")
        if row.accepted and row.channel != Channel.PREVIEW and row.model_version_id == version.pk
    ]
    figures = {}
    for name in features.INPUT_NAMES:
        low, high = (version.training_ranges[name][end] for end in ("min", "max"))
        values = [getattr(row, name) for row in rows]
        figures[name] = (
            Counter(value // drift.DRIFT_BIN_WIDTH for value in values),
            sum(not low <= value <= high for value in values),
        )
    return figures


def binned_as_read(version, monkeypatch) -> dict:
    """The same, as drift reads it: checkpoint plus rows since (binned whatever the count)."""
    monkeypatch.setattr(drift, "DRIFT_KS_MAX_ROWS", 0)
    inputs = drift.served_inputs([version])[version.pk]
    return {
        name: (
            Counter(
                {
                    int(b): int(n)
                    for b, n in zip(inputs[name].values, inputs[name].weights, strict=True)
                }
            ),
            inputs[name].outside,
        )
        for name in features.INPUT_NAMES
    }


def test_the_checkpoints_histograms_plus_the_rows_since_equal_a_count_of_the_trail(
    active_model, monkeypatch
):
    ask({"likes": 105, "shares": 60}, {"likes": 20_000, "shares": 300}, {"likes": 109, "shares": 0})
    ask({"likes": 5, "shares": 5}, channel=Channel.PREVIEW)  # previews are not answers kept
    first = served.advance(through_id=newest_id())
    assert first.has_input_histograms
    assert binned_as_read(active_model, monkeypatch) == binned_from_the_trail(active_model)

    ask({"likes": 700, "shares": 449}, {"likes": 100, "shares": 50})
    assert binned_as_read(active_model, monkeypatch) == binned_from_the_trail(active_model)
    second = served.advance(through_id=newest_id())
    ask({"likes": 1543, "shares": 1000}, channel=Channel.FORM)
    assert binned_as_read(active_model, monkeypatch) == binned_from_the_trail(active_model)

    # The second checkpoint carried the first's bins forward and added the two rows between.
    likes = second.input_histograms.get(feature="likes")
    assert likes.counts == {"10": 3, "70": 1, "2000": 1}
    assert (likes.below, likes.above) == (0, 1)


def test_a_checkpoint_stored_before_histograms_is_followed_by_one_with_every_row(
    active_model, monkeypatch
):
    ask({"likes": 105, "shares": 60}, {"likes": 20_000, "shares": 300})
    old = ServedCheckpoint.objects.create(through_id=newest_id())  # as 0018 to 0020 stored them
    assert not old.has_input_histograms
    ask({"likes": 900, "shares": 70})
    new = served.advance(through_id=newest_id())
    assert new.input_histograms.get(feature="likes").counts == {"10": 1, "90": 1, "2000": 1}
    assert binned_as_read(active_model, monkeypatch) == binned_from_the_trail(active_model)
    assert ServedInputHistogram.objects.filter(checkpoint=old).count() == 0


# --- Through the API, then the card, the command and /metrics (issue 23's must-hold) ----------

SHIFT = 600  # shares added to each request: about one standard deviation of the training shares


def post_batches(api, inputs: list[dict], *, advance_midway: bool) -> None:
    """Post `inputs` in batches of 500, advancing the served checkpoint after the first when
    asked (as a seal would), so the figures are a checkpoint plus the rows since."""
    for start in range(0, len(inputs), 500):
        response = api.post(PREDICTIONS, inputs[start : start + 500], format="json")
        assert response.status_code == 201, response.content[:300]
        if advance_midway and start == 0:
            served.advance(through_id=newest_id())


def scrape(settings) -> dict:
    """/metrics' drift samples: {(name, version, feature): value}."""
    settings.VIEWSITE_METRICS_TOKEN = TOKEN
    scraped = Client(HTTP_AUTHORIZATION=f"Bearer {TOKEN}").get(METRICS).content.decode()
    return {
        (sample.name, sample.labels.get("version"), sample.labels.get("feature")): sample.value
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
        if sample.name.startswith("viewsite_input_")
    }


def input_lines(output: str, name: str) -> list[str]:
    """The command's table lines of one input."""
    return [line for line in output.splitlines() if line.startswith(name)]


def feature_row(html: str, table: str, name: str) -> str:
    """The text of one input's cells in one of the card's drift tables (a column per input)."""
    body = re.search(rf'<table[^>]*id="{table}"[^>]*>(.*?)</table>', html, re.S).group(1)
    cells = re.findall(rf'<td class="drift-{name}[^"]*">(.*?)</td>', body, re.S)
    assert len(cells) == 4  # verdict, difference, test, outside
    return " ".join(re.sub(r"<[^>]+>", " ", " ".join(cells)).split())


@pytest.mark.parametrize(
    ("answers", "test"), [(300, drift.KS), (1_500, drift.WASSERSTEIN)], ids=["ks", "wasserstein"]
)
def test_traffic_like_the_training_data_is_not_drift_and_shifted_shares_are(
    db, client, trained_models, tmp_path, settings, answers, test
):
    training = noisy_rows(2_000, seed=5)
    path = write_csv(tmp_path / "drift.csv", training)
    rng = np.random.default_rng(17)
    drawn = [training[i] for i in rng.integers(0, len(training), size=answers)]
    api = APIClient()

    steady = trained_models.store(path)
    registry.clear_loaded_models()
    alike = [{"likes": likes, "shares": shares} for likes, shares, _ in drawn]
    post_batches(api, alike, advance_midway=answers > drift.DRIFT_KS_MAX_ROWS)

    shifted = trained_models.store(path)  # the same data, now active: the command's default
    registry.clear_loaded_models()
    moved = [{"likes": likes, "shares": shares + SHIFT} for likes, shares, _ in drawn]
    post_batches(api, moved, advance_midway=answers > drift.DRIFT_KS_MAX_ROWS)

    # The report: the test suited to the sample, the verdict on shares only.
    for version, drifted in ((steady, set()), (shifted, {"shares"})):
        report = services.version_drift(version)
        assert [f.test for f in report.overall] == [test, test]
        assert [f.served for f in report.overall] == [answers, answers]
        assert {f.name for f in (*report.overall, *report.recent) if f.drifted} == drifted
    shares = {f.name: f for f in services.version_drift(shifted).overall}["shares"]
    highest = max(shares for _, shares, _ in training)
    assert shares.outside == sum(s + SHIFT > highest for _, s, _ in drawn) > 0

    # The command: exit 0 for the steady version, 1 for the active (shifted) one.
    out = StringIO()
    call_command("drift", "v1", stdout=out)  # no SystemExit: exit status 0
    steady_lines = input_lines(out.getvalue(), "likes") + input_lines(out.getvalue(), "shares")
    assert len(steady_lines) == 4  # each input, for every answer and the latest
    assert all("no drift" in line for line in steady_lines)
    assert "Drifted:" not in out.getvalue()
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("drift", stdout=out)
    assert exited.value.code == 1
    shares_lines = input_lines(out.getvalue(), "shares")
    likes_lines = input_lines(out.getvalue(), "likes")
    assert all("drifted" in line and "no drift" not in line for line in shares_lines)
    assert all("no drift" in line for line in likes_lines)
    assert "Drifted: shares." in out.getvalue()

    # The card, in both languages.
    for language, drifted, steady_word in (
        ("en", "drifted", "no drift"),
        ("zh-hans", "已漂移", "未漂移"),
    ):
        html = get_card(client, shifted, language).html
        # A second table for the latest answers only when they are not all of them.
        tables = ("drift-1", "drift-2") if answers > drift.DRIFT_WINDOW else ("drift-1",)
        assert html.count('class="table drift-table"') == len(tables)
        for table in tables:
            assert drifted in feature_row(html, table, "shares")
            assert steady_word in feature_row(html, table, "likes")
        assert html.count('class="drift-svg"') == 2
        steady_html = get_card(client, steady, language).html
        for table in tables:
            for name in features.INPUT_NAMES:
                assert steady_word in feature_row(steady_html, table, name)

    # /metrics: a gauge per version and input, as of the latest seal: once the checkpoint has
    # moved (as seal_audit does every ten minutes), what the card and the command report for
    # every answer.
    served.advance(through_id=newest_id())
    samples = scrape(settings)
    assert_gauges_report_every_answer(samples, [steady, shifted])
    assert {
        (version, feature): samples["viewsite_input_drifted", version, feature]
        for version in ("v1", "v2")
        for feature in ("likes", "shares")
    } == {("v1", "likes"): 0, ("v1", "shares"): 0, ("v2", "likes"): 0, ("v2", "shares"): 1}
    assert samples["viewsite_input_drift", "v2", "shares"] == pytest.approx(shares.effect)


def assert_gauges_report_every_answer(samples: dict, versions) -> None:
    """Each version's three gauges per input equal its drift report over every answer."""
    for version in versions:
        report = services.version_drift(version)
        assert report.recorded
        for compared in report.overall:
            key = (version.label, compared.name)
            assert samples["viewsite_input_drift", *key] == pytest.approx(compared.effect)
            assert samples["viewsite_input_drifted", *key] == (1 if compared.drifted else 0)
            assert samples["viewsite_input_outside_share", *key] == pytest.approx(
                compared.share_outside
            )


LIKE_TRAINING = [{"likes": 100 + 37 * i, "shares": 50 + (53 * i) % 400} for i in range(40)]
FAR_ABOVE = {"likes": 20_000, "shares": 20_000}


def test_the_gauges_are_the_latest_seals_and_move_only_with_the_next_one(active_model, settings):
    ask(*LIKE_TRAINING)
    assert scrape(settings) == {}  # no checkpoint yet: nothing compared
    call_command("seal_audit", lag=0, verbosity=0)
    sealed = scrape(settings)
    assert sealed[("viewsite_input_drifted", "v1", "likes")] == 0
    assert_gauges_report_every_answer(sealed, [active_model])

    ask(*(FAR_ABOVE for _ in range(60)))
    assert scrape(settings) == sealed  # the answers since wait for the next seal
    assert all(f.drifted for f in services.version_drift(active_model).overall)  # the card's

    call_command("seal_audit", lag=0, verbosity=0)
    resealed = scrape(settings)
    assert resealed[("viewsite_input_drifted", "v1", "likes")] == 1
    assert resealed[("viewsite_input_outside_share", "v1", "shares")] == pytest.approx(60 / 100)
    assert_gauges_report_every_answer(resealed, [active_model])


def test_a_checkpoint_stored_before_drift_figures_has_no_gauges_until_the_next(
    active_model, settings
):
    ask(*LIKE_TRAINING)
    served.advance(through_id=newest_id())
    # As 0021 and 0022 stored them: histograms, no figures.
    ServedInputHistogram.objects.update(effect=None, drifted=None, share_outside=None)
    assert scrape(settings) == {}
    ask(FAR_ABOVE)
    served.advance(through_id=newest_id())
    assert_gauges_report_every_answer(scrape(settings), [active_model])


# --- The command's other answers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["v9"], "There is no version v9. Stored versions: v1."),
        (["nine"], "“nine” is not a version"),
        (["--since", "yesterday"], "“yesterday” is not a date"),
        (["--since", "2026-02-30"], "“2026-02-30” is not a date"),
    ],
)
def test_a_bad_version_or_date_is_an_error_with_exit_status_2(active_model, arguments, message):
    with pytest.raises(CommandError, match=message) as refused:
        call_command("drift", *arguments, stdout=StringIO())
    assert refused.value.returncode == 2


def test_without_an_active_version_the_command_asks_for_one(db):
    with pytest.raises(CommandError, match="No version is active") as refused:
        call_command("drift", stdout=StringIO())
    assert refused.value.returncode == 2


def test_a_version_trained_before_distributions_were_recorded_says_so_on_card_and_command(
    client, active_model, settings
):
    summary = active_model.training_summary
    del summary["distributions"]
    ModelVersion.objects.filter(pk=active_model.pk).update(training_summary=summary)
    ask({"likes": 105, "shares": 60})
    out = StringIO()
    call_command("drift", stdout=out)  # no verdict, so exit status 0
    assert "Trained before its data's distribution was recorded; retrain to compare." in (
        out.getvalue()
    )
    page = get_card(client, active_model)
    assert "Retrain to compare." in page.text("drift-unrecorded")
    assert not page.has("drift-1")
    served.advance(through_id=newest_id())  # as a seal does: its histograms, no figures
    stored = ServedInputHistogram.objects.filter(version=active_model)
    assert stored.count() == len(features.INPUT_NAMES)
    assert set(stored.values_list("effect", "drifted", "share_outside")) == {(None, None, None)}
    assert not [key for key in scrape(settings) if key[0].startswith("viewsite_input_")]


def test_since_compares_the_answers_from_that_moment_on(active_model):
    ask(*({"likes": 20_000, "shares": 20_000} for _ in range(30)))
    between = timezone.localtime()
    ask(*({"likes": 100 + 37 * i, "shares": 50 + (53 * i) % 400} for i in range(40)))

    written = between.replace(tzinfo=None).isoformat()  # in the site's zone, as a person types
    report = services.version_drift(active_model, since=services.read_since(written))
    assert [f.served for f in report.recent] == [40, 40]
    assert not any(f.drifted for f in report.recent)  # the training rows themselves
    assert [f.served for f in report.overall] == [70, 70]
    assert all(f.drifted for f in report.overall)  # thirty far above the training data
    assert [f.outside for f in report.overall] == [30, 30]

    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("drift", "--since", "2000-01-01", stdout=out)
    assert exited.value.code == 1
    assert "Answers since" in out.getvalue()


# --- The comparison itself ---------------------------------------------------------------------


def training_of(values) -> drift.TrainingInputs:
    counted = Counter(values)
    return drift.TrainingInputs(
        values=np.array(sorted(counted), dtype=np.float64),
        counts=np.array([counted[v] for v in sorted(counted)], dtype=np.float64),
    )


def test_bins_of_the_training_values_themselves_are_no_distance_however_narrow_the_spread():
    # A spread of 3 is less than a bin: compared with exact values, the bins' middles alone
    # would be most of a standard deviation away (104.5 against a mean of 103, spread 2).
    values = [100 + (i % 7) for i in range(5_000)]
    histogram = drift.Histogram()
    histogram.add(Counter(values).items(), (100, 106))
    compared = drift.compare("likes", training_of(values), drift.binned_inputs(histogram))
    assert compared.test == drift.WASSERSTEIN
    assert compared.effect == 0
    assert not compared.drifted


def test_the_distance_is_in_training_standard_deviations():
    values = list(range(0, 2_000))  # standard deviation about 577
    shifted = [value + 58 for value in values]  # a tenth of it, to the unit
    compared = drift.compare(
        "likes", training_of(values), drift.exact_inputs(Counter(shifted), (0, 1_999))
    )
    assert compared.effect == pytest.approx(58 / np.std(values))
    assert compared.drifted
    assert compared.outside == 58


def test_a_training_column_of_one_value_drifts_at_any_distance():
    training = training_of([500] * 50)
    alike = drift.compare("likes", training, drift.exact_inputs({500: 1_200}, (500, 500)))
    moved = drift.compare("likes", training, drift.exact_inputs({501: 1_200}, (500, 500)))
    assert (alike.effect, alike.drifted) == (0, False)
    assert moved.drifted
