"""Drift (services/drift.py): the served inputs kept at the served checkpoint, the tests chosen
by sample size, and what the card, `manage.py drift` and /metrics say of it."""

from collections import Counter

from predictor import features, services
from predictor.models import Channel, PredictionRequest, ServedCheckpoint, ServedInputHistogram
from predictor.services import drift, served


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
