"""What each version served, summed from the audit trail at a checkpoint (services/served.py),
and migration 0018, which starts the checkpoints from the counts kept per request before."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.models import (
    Avg,
    Case,
    Count,
    F,
    FloatField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Abs, Cast, Coalesce, Greatest, Power, Sqrt
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from predictor import features, services
from predictor.models import (
    Channel,
    ModelVersion,
    Outcome,
    PredictionRequest,
    ServedCheckpoint,
    ServedTally,
)
from predictor.services import registry, sealing, served

OUTSIDE = {"likes": 20_000, "shares": 300}  # far above the training data's likes
INSIDE = {"likes": 500, "shares": 300}


def ask(*inputs, channel=Channel.API, batch=False):
    services.predict(
        inputs=list(inputs),
        raw_inputs=list(inputs),
        info=services.RequestInfo(channel=channel),
        batch=batch,
    )


def refuse():
    services.record_refusal(
        raw_inputs=[{"likes": "x"}],
        errors=[{"likes": ["bad"]}],
        info=services.RequestInfo(channel=Channel.API),
    )


def figures(version) -> tuple[int, int]:
    """(served, outside the training range), as the model card and the lists read them."""
    read = ModelVersion.objects.with_live_error().with_served_extrapolated().get(pk=version.pk)
    return read.live_predictions, read.live_extrapolated


def counted_from_the_trail(version) -> tuple[int, int]:
    """The same figures, by reading every row in Python: answered, not a preview, this version."""
    rows = [
        row
        for row in PredictionRequest.objects.order_by("pk")
        if row.accepted and row.channel != Channel.PREVIEW and row.model_version_id == version.pk
    ]
    outside = sum(version.is_extrapolating((row.likes, row.shares)) for row in rows)
    return len(rows), outside


def newest_id() -> int:
    return PredictionRequest.objects.latest("pk").pk


def test_the_figures_equal_a_count_of_the_trail_before_and_after_checkpoints(active_model):
    assert active_model.is_extrapolating(tuple(OUTSIDE.values()))
    assert not active_model.is_extrapolating(tuple(INSIDE.values()))
    ask(INSIDE)
    ask(OUTSIDE, INSIDE, OUTSIDE, batch=True)
    ask(OUTSIDE, channel=Channel.FORM)
    ask(OUTSIDE, channel=Channel.PREVIEW)
    refuse()
    assert figures(active_model) == counted_from_the_trail(active_model) == (5, 3)

    first = served.advance(through_id=newest_id())
    assert figures(active_model) == (5, 3)
    assert first.tallies.values_list("count", "extrapolated").get() == (5, 3)

    ask(INSIDE, channel=Channel.CLI)
    ask(OUTSIDE, channel=Channel.PREVIEW)
    refuse()
    ask(OUTSIDE)
    assert figures(active_model) == counted_from_the_trail(active_model) == (7, 4)

    # Two in a row: the second starts from the first's tallies.
    second = served.advance(through_id=newest_id())
    ask(INSIDE)
    assert second.tallies.values_list("count", "extrapolated").get() == (7, 4)
    assert list(ServedCheckpoint.objects.all()) == [second, first]
    assert figures(active_model) == counted_from_the_trail(active_model) == (8, 4)


def test_a_checkpoint_between_the_rows_of_one_request_splits_them_without_loss(active_model):
    ask(OUTSIDE, INSIDE, OUTSIDE, INSIDE, batch=True)
    first, *_, last = PredictionRequest.objects.order_by("pk").values_list("pk", flat=True)
    served.advance(through_id=first + 1)
    assert ServedTally.objects.values_list("count", "extrapolated").get() == (2, 1)
    assert figures(active_model) == (4, 2)
    served.advance(through_id=last)
    assert figures(active_model) == (4, 2)


def test_previews_and_refusals_count_on_neither_side_of_a_checkpoint(active_model):
    ask(OUTSIDE, channel=Channel.PREVIEW)
    refuse()
    served.advance(through_id=newest_id())
    ask(OUTSIDE, OUTSIDE, channel=Channel.PREVIEW, batch=True)
    refuse()

    assert figures(active_model) == (0, 0)
    # No version served anything, so the checkpoint has no tally at all.
    assert not ServedTally.objects.exists()
    assert PredictionRequest.objects.count() == 5


def test_each_version_has_its_own_figures(active_model, linear_csv, trained_models):
    ask(OUTSIDE, INSIDE)
    served.advance(through_id=newest_id())
    newer = trained_models.store(linear_csv)
    registry.clear_loaded_models()
    ask(OUTSIDE)
    assert figures(active_model) == (2, 1)
    assert figures(newer) == (1, 1)
    latest = served.advance(through_id=newest_id())
    assert (figures(active_model), figures(newer)) == ((2, 1), (1, 1))
    assert sorted(latest.tallies.values_list("version", "count", "extrapolated")) == [
        (active_model.pk, 2, 1),
        (newer.pk, 1, 1),
    ]


def test_a_checkpoint_carries_forward_what_only_the_one_before_it_knew(active_model):
    # As migration 0018 leaves an old trail: rows without `extrapolated`, counted elsewhere.
    for likes in (20_000, 500):
        PredictionRequest.objects.create(
            channel=Channel.API,
            accepted=True,
            likes=likes,
            shares=300,
            model_version=active_model,
            latency_ms=1.0,
        )
    baseline = ServedCheckpoint.objects.create(through_id=newest_id())
    ServedTally.objects.create(checkpoint=baseline, version=active_model, count=2, extrapolated=1)
    ask(OUTSIDE)
    assert figures(active_model) == (3, 2)

    served.advance(through_id=newest_id())
    ServedTally.objects.filter(checkpoint=baseline).delete()  # the baseline is not read again
    assert figures(active_model) == (3, 2)


def test_checkpoints_a_day_older_than_the_newest_are_removed(active_model):
    ask(INSIDE)
    old = served.advance(through_id=newest_id())
    ServedCheckpoint.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - served.KEPT_FOR - timedelta(minutes=1)
    )
    ask(INSIDE)
    recent = served.advance(through_id=newest_id())
    ask(INSIDE)
    newest = served.advance(through_id=newest_id())
    assert list(ServedCheckpoint.objects.all()) == [newest, recent]
    assert not ServedTally.objects.filter(checkpoint_id=old.pk).exists()
    assert figures(active_model) == (3, 0)


def test_advancing_to_where_the_checkpoint_already_is_changes_nothing(active_model):
    ask(INSIDE)
    checkpoint = served.advance(through_id=newest_id())
    assert served.advance(through_id=newest_id()) is None
    assert served.advance(through_id=newest_id() - 1) is None
    assert list(ServedCheckpoint.objects.all()) == [checkpoint]


def test_every_versions_figures_are_one_statement_after_the_checkpoints(
    active_model, linear_csv, trained_models
):
    newer = trained_models.store(linear_csv)
    registry.clear_loaded_models()
    ask(OUTSIDE, INSIDE)
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            versions = list(ModelVersion.objects.with_live_error().order_by("number"))
        assert [v.live_predictions for v in versions] == [0, 2]
        assert versions[1].pk == newer.pk
        # The checkpoint, then the versions with their figures, whatever their number.
        assert len(queries) == 2
        served.advance(through_id=newest_id())


def test_a_reader_that_read_the_previous_checkpoint_still_finds_its_tallies(active_model):
    ask(OUTSIDE, INSIDE)
    served.advance(through_id=newest_id())
    built_before = ModelVersion.objects.with_live_error().filter(pk=active_model.pk)
    ask(INSIDE)
    served.advance(through_id=newest_id())
    assert built_before.get().live_predictions == 3
    assert ServedCheckpoint.objects.count() == 2


def test_a_seal_advances_the_checkpoint_to_the_id_it_sealed_through(active_model):
    an_hour_ago = timezone.now() - timedelta(hours=1)
    for likes in (20_000, 500):  # old enough for the seal's lag
        PredictionRequest.objects.create(
            created_at=an_hour_ago,
            channel=Channel.API,
            accepted=True,
            likes=likes,
            shares=300,
            extrapolated=likes == 20_000,
            model_version=active_model,
            latency_ms=1.0,
        )
    ask(OUTSIDE, INSIDE, batch=True)  # too young: left to the next seal

    stored = sealing.seal()

    [checkpoint] = ServedCheckpoint.objects.all()
    assert checkpoint.through_id == stored.predictions_through_id
    assert checkpoint.through_id == newest_id() - 2
    assert checkpoint.tallies.values_list("count", "extrapolated").get() == (2, 1)
    assert figures(active_model) == counted_from_the_trail(active_model) == (4, 2)

    stored = sealing.seal(lag=timedelta(0))
    assert ServedCheckpoint.objects.first().through_id == stored.predictions_through_id
    assert figures(active_model) == (4, 2)
    assert sealing.seal(lag=timedelta(0), dry_run=True) is None


def test_a_dry_run_seal_moves_no_checkpoint(active_model):
    ask(INSIDE)
    assert sealing.seal(lag=timedelta(0), dry_run=True) is not None
    assert not ServedCheckpoint.objects.exists()


# --- Live error at the checkpoint -------------------------------------------------------------


def recorded(prediction: PredictionRequest, views: int) -> None:
    services.record_outcomes(
        [services.OutcomeItem(prediction.pk, views)], source=Outcome.Source.API
    )


def predicted(*pairs, channel=Channel.API) -> list[PredictionRequest]:
    inputs = [{"likes": likes, "shares": shares} for likes, shares in pairs]
    answers = services.predict(
        inputs=inputs, raw_inputs=inputs, info=services.RequestInfo(channel=channel)
    )
    return [PredictionRequest.objects.get(pk=answer.pk) for answer in answers]


def live_error_directly() -> dict[int, tuple]:
    """Each version's live error as with_live_error computed it before the checkpoint kept its
    sums: every outcome in force read at once, an aggregate per figure. The reference."""
    outcomes = (
        Outcome.objects.latest_per_prediction()
        .filter(prediction__model_version=OuterRef("pk"))
        .exclude(prediction__channel=Channel.PREVIEW)
        .order_by()
        .values("prediction__model_version")
    )

    def per_version(aggregate):
        return Subquery(outcomes.annotate(value=aggregate).values("value")[:1])

    actual = Cast("views", FloatField())
    error = actual - Greatest(F("prediction__views"), Value(features.VIEWS_FLOOR))
    inside = Q(views__gte=F("prediction__views_lower")) & Q(views__lte=F("prediction__views_upper"))
    versions = ModelVersion.objects.annotate(
        outcomes=Coalesce(per_version(Count("pk")), 0),
        mae=per_version(Avg(Abs(error))),
        rmse=per_version(Sqrt(Avg(Power(error, 2)))),
        mape=per_version(
            Avg(Case(When(views__gt=0, then=Abs(error) / actual), output_field=FloatField()))
        ),
        coverage=per_version(
            Avg(
                Case(
                    When(prediction__views_lower__isnull=True, then=None),
                    When(inside, then=Value(1.0)),
                    default=Value(0.0),
                    output_field=FloatField(),
                )
            )
        ),
    )
    return {v.pk: (v.outcomes, v.mae, v.rmse, v.mape, v.coverage) for v in versions.order_by("pk")}


def live_error_read() -> dict[int, tuple]:
    """The same figures as the model card, the lists and the API read them."""
    return {
        v.pk: (v.live_outcomes, v.live_mae, v.live_rmse, v.live_mape, v.live_coverage)
        for v in ModelVersion.objects.with_live_error().order_by("pk")
    }


def assert_live_error_as_read_directly() -> None:
    expected = live_error_directly()
    read = live_error_read()
    assert read.keys() == expected.keys()
    for version, figures_read in read.items():
        assert figures_read[0] == expected[version][0]
        for read_figure, expected_figure in zip(
            figures_read[1:], expected[version][1:], strict=True
        ):
            if expected_figure is None:
                assert read_figure is None
            else:
                assert read_figure == pytest.approx(expected_figure, rel=1e-9, abs=1e-9)


def newest_outcome_id() -> int:
    return Outcome.objects.latest("pk").pk


def test_the_live_error_at_checkpoints_equals_every_outcome_read_directly(
    active_model, linear_csv, trained_models
):
    first = predicted((500, 300), (20, 10), (900, 10), (30, 3), (2000, 50))
    [preview] = predicted((700, 20), channel=Channel.PREVIEW)
    refuse()
    recorded(first[0], round(first[0].views) + 400)
    recorded(first[1], 0)  # in no MAPE
    recorded(first[2], round(first[2].views))  # inside an interval of width about 0
    # record_outcomes refuses it: this stands for one written around it (by SQL, say).
    Outcome.objects.create(prediction=preview, views=5, source=Outcome.Source.IMPORT)
    assert_live_error_as_read_directly()  # no checkpoint: every outcome is since

    checkpoint = served.advance(through_id=newest_id(), outcomes_through_id=newest_outcome_id())
    assert checkpoint.outcomes_through_id == newest_outcome_id()
    assert_live_error_as_read_directly()

    # A newer version trained before intervals were: its answers state none.
    newer = trained_models.store(linear_csv)
    ModelVersion.objects.filter(pk=newer.pk).update(interval_relative_half_width=None)
    registry.clear_loaded_models()
    second = predicted((500, 300), (40, 4), (60, 6))
    assert second[0].views_lower is None
    refuse()
    recorded(first[0], round(first[0].views) - 900)  # supersedes across the checkpoint
    recorded(first[3], 12_345)
    recorded(first[3], 23_456)  # supersedes within the outcomes since
    recorded(second[0], 70_000)
    recorded(second[1], 0)
    recorded(second[1], 3_000)
    assert_live_error_as_read_directly()

    served.advance(through_id=newest_id(), outcomes_through_id=newest_outcome_id())
    assert_live_error_as_read_directly()

    recorded(first[3], 1)  # supersedes one that superseded within the range before
    recorded(first[0], 100_000)  # a second correction, across a second checkpoint
    recorded(second[2], 4_000)
    boundary = newest_outcome_id()
    recorded(second[2], 5_000)  # after the next checkpoint's outcome id, of a range it sums
    recorded(first[4], 7)
    ask(INSIDE)
    assert_live_error_as_read_directly()

    served.advance(through_id=newest_id(), outcomes_through_id=boundary)
    assert ServedCheckpoint.objects.first().outcomes_through_id == boundary
    assert_live_error_as_read_directly()
    assert Outcome.objects.filter(pk__gt=boundary).count() == 2

    ask(INSIDE)
    served.advance(through_id=newest_id(), outcomes_through_id=newest_outcome_id())
    assert_live_error_as_read_directly()
    # The figures are the tallies' sums: what they hold is what the card shows.
    [tally] = ServedCheckpoint.objects.first().tallies.filter(version=newer)
    assert (tally.outcomes, tally.percentage_outcomes, tally.with_interval) == (3, 3, 0)
    ServedTally.objects.filter(pk=tally.pk).update(absolute_error=F("absolute_error") + 3_000)
    assert live_error_read()[newer.pk][1] == pytest.approx(
        live_error_directly()[newer.pk][1] + 1_000
    )


def test_a_checkpoint_without_outcome_sums_is_followed_by_one_that_sums_every_outcome(
    active_model,
):
    answered = predicted((500, 300), (20, 10))
    recorded(answered[0], 60_000)
    recorded(answered[1], 3_000)
    # As a checkpoint stored before outcomes were summed (or an advance not told how far).
    old = served.advance(through_id=newest_id())
    assert old.outcomes_through_id is None
    assert old.tallies.values_list("outcomes", "absolute_error").get() == (0, 0.0)
    assert_live_error_as_read_directly()
    recorded(answered[0], 59_000)
    ask(INSIDE)

    served.advance(through_id=newest_id(), outcomes_through_id=newest_outcome_id())

    tally = ServedCheckpoint.objects.first().tallies.get()
    assert tally.outcomes == 2
    assert tally.absolute_error == pytest.approx(
        abs(59_000 - answered[0].views) + abs(3_000 - answered[1].views)
    )
    assert_live_error_as_read_directly()
    # Carried as they are by an advance not told how far outcomes reach.
    ask(INSIDE)
    carried = served.advance(through_id=newest_id())
    assert carried.outcomes_through_id == newest_outcome_id()
    assert carried.tallies.get().outcomes == 2
    assert_live_error_as_read_directly()


def test_a_seal_sums_the_outcomes_through_the_id_it_sealed_through(active_model):
    answered = predicted((500, 300), (20, 10))
    recorded(answered[0], 60_000)
    recorded(answered[1], 3_000)
    recorded(answered[1], 2_500)

    stored = sealing.seal(lag=timedelta(0))

    checkpoint = ServedCheckpoint.objects.get()
    assert checkpoint.outcomes_through_id == stored.outcomes_through_id == newest_outcome_id()
    assert checkpoint.tallies.get().outcomes == 2
    assert_live_error_as_read_directly()


def test_an_outcome_on_a_refused_request_counts_for_no_version(active_model):
    # record_outcomes refuses one; a row written another way must not stop the seal.
    answered = predicted((500, 300))
    recorded(answered[0], 60_000)
    refused = PredictionRequest.objects.create(
        channel=Channel.API, accepted=False, raw_input={"likes": "x"}, latency_ms=1.5
    )
    Outcome.objects.create(prediction=refused, views=10, source=Outcome.Source.API)

    sealing.seal(lag=timedelta(0))

    assert ServedCheckpoint.objects.get().tallies.get().outcomes == 1
    assert_live_error_as_read_directly()


# --- Migration 0018 -------------------------------------------------------------------------------

BEFORE = ("predictor", "0017_audit_extrapolated")
CHECKPOINTS = ("predictor", "0018_served_checkpoints")
# The newest migration, whichever it is: a test that ends elsewhere leaves its worker's later
# tests a database without the newer columns.
LATEST = MigrationLoader(None).graph.leaf_nodes("predictor")[0]


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


def test_migration_0018_starts_from_what_served_count_had_counted(
    transactional_db, linear_csv, trained_models
):
    version = trained_models.store(linear_csv)
    registry.clear_loaded_models()
    old = migrate(BEFORE)
    OldRequest = old.get_model("predictor", "PredictionRequest")
    ServedCount = old.get_model("predictor", "ServedCount")
    # An old trail: two rows from before 0017 (no `extrapolated`), one since, and a refusal.
    for likes, extrapolated in ((20_000, None), (500, None), (20_000, True)):
        OldRequest.objects.create(
            channel="api",
            accepted=True,
            likes=likes,
            shares=300,
            extrapolated=extrapolated,
            model_version_id=version.pk,
            latency_ms=1.0,
        )
    OldRequest.objects.create(channel="api", accepted=False, latency_ms=1.0)
    # As predict kept them: two shards of one version.
    ServedCount.objects.create(version_id=version.pk, shard=0, count=2, extrapolated=1)
    ServedCount.objects.create(version_id=version.pk, shard=3, count=1, extrapolated=1)

    at_checkpoints = migrate(CHECKPOINTS)

    # As 0018 left the table: the model of today has columns added since.
    [checkpoint] = at_checkpoints.get_model("predictor", "ServedCheckpoint").objects.all()
    assert checkpoint.through_id == OldRequest.objects.latest("pk").pk
    assert checkpoint.tallies.values_list("version", "count", "extrapolated").get() == (
        version.pk,
        3,
        2,
    )

    migrate(LATEST)
    assert "predictor_servedcount" not in connection.introspection.table_names()
    ask(OUTSIDE)
    assert figures(version) == (4, 3)


def test_migration_0018_on_a_new_database_leaves_the_figures_to_the_trail(
    transactional_db, linear_csv, trained_models
):
    version = trained_models.store(linear_csv)
    registry.clear_loaded_models()
    migrate(BEFORE)
    migrate(LATEST)
    assert not ServedCheckpoint.objects.exists()
    ask(OUTSIDE)
    assert figures(version) == (1, 1)


def test_migration_0018_backwards_puts_the_figures_back_in_served_count(
    transactional_db, linear_csv, trained_models
):
    version = trained_models.store(linear_csv)
    registry.clear_loaded_models()
    ask(INSIDE)
    baseline = ServedCheckpoint.objects.create(through_id=newest_id())
    ServedTally.objects.create(checkpoint=baseline, version=version, count=5, extrapolated=2)
    ask(OUTSIDE)
    ask(OUTSIDE, channel=Channel.PREVIEW)

    old = migrate(BEFORE)

    totals = old.get_model("predictor", "ServedCount").objects.values_list(
        "version", "shard", "count", "extrapolated"
    )
    assert list(totals) == [(version.pk, 0, 6, 3)]
    migrate(LATEST)


def test_the_apis_version_list_follows_each_new_checkpoint(client, active_model):
    def listed() -> int:
        response = client.get(reverse("predictor:model-list"), HTTP_ACCEPT="application/json")
        [version] = response.json()["results"]
        return version["live"]["predictions"]

    ask(INSIDE)
    assert listed() == 1
    for served_so_far in (2, 3, 4):
        served.advance(through_id=newest_id())
        ask(INSIDE)
        assert listed() == served_so_far
