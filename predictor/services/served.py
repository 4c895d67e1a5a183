"""What each version has served, summed from the audit trail at a checkpoint: nothing but the
audit row is written per request.

A version's served count (its answers, previews left out) and how many of them had an input
outside its training range are its tally at the latest checkpoint plus its rows since
(`models.served_figure`: the checkpoint is read, then every version's figures in one statement).
`advance` moves the checkpoint: the new tallies are the previous checkpoint's plus the rows in
between, grouped by the database. Sealing the audit advances it to the id the seal reached
(services/sealing.py), so the rows read per page are at most those of the last few minutes;
without seals they are every row since the last checkpoint.

Why the seal's id is safe: ids are handed out at insert and rows seen at commit, so a row with a
lower id may still be in flight when a higher one is visible. The seal reaches only as far as
the newest row older than its lag and covers every row up to there, all committed by then; a
checkpoint at the same id leaves out no row that the seal covers. The rows after it are counted
as they are, so none is counted twice.

Each checkpoint also keeps, per version and input, its answers in bins (ServedInputHistogram):
what drift is measured on (services/drift.py), carried forward the same way. A checkpoint stored
before them has none; the first advance after it sums every served row once instead. Each
histogram row also keeps its version's drift in that input over every answer through the
checkpoint (effect, drifted, share outside the training range), computed here, in the sealing
process, so /metrics reads the figures and a web worker never imports scipy to compare. A
checkpoint stored before those columns has none until the next advance.

Each tally also keeps the sums a version's live error is made of (models.LIVE_ERROR_SUMS: the
outcomes in force, their absolute and squared errors, ...) over the outcomes through the
checkpoint's `outcomes_through_id`, the id the seal reached in the outcomes; the model card reads
them plus the change the outcomes since bring (models.live_error_sums, the same function that
sums a range here). A correction supersedes across the boundary: the outcome it replaces is
taken off. A checkpoint stored before those sums has none; the first advance after it sums every
outcome once.

The first checkpoint (migration 0018) holds what ServedCount had counted per request until then,
for rows written before the audit recorded `extrapolated`; every later one carries it forward.
"""

import logging
from datetime import timedelta

from django.db import models, transaction

from ..models import (
    LIVE_ERROR_SUMS,
    PredictionRequest,
    ServedCheckpoint,
    ServedInputHistogram,
    ServedTally,
    latest_served_checkpoint,
    live_error_sums,
)
from . import drift

logger = logging.getLogger(__name__)

# A reader reads the latest checkpoint, then its tallies in a second statement; a checkpoint
# stays this long after a newer one, so no reader finds its tallies gone. At one seal every ten
# minutes that is 144 checkpoints, each with a tally per version that ever answered.
KEPT_FOR = timedelta(days=1)


def advance(*, through_id: int, outcomes_through_id: int | None = None) -> ServedCheckpoint | None:
    """A checkpoint of every row through `through_id`, and of every outcome through
    `outcomes_through_id`; None when the latest already reaches `through_id` (outcomes since
    are summed at the next one, and read as since until then).

    Every row with an id through `through_id`, and every outcome through
    `outcomes_through_id`, must be committed (the seal's lag sees to it). Without
    `outcomes_through_id` the previous checkpoint's outcome sums are carried as they are.
    The rows since the previous checkpoint are summed, and each version's drift computed from
    the sums, outside any transaction (on SQLite a transaction takes the write lock every
    audited request waits for); the checkpoint is then stored, and those older than KEPT_FOR
    removed, in one. Each checkpoint is right on its own (the one before it plus the rows
    between), so two advancing at once (two seal_audit runs) leave right figures whichever is
    stored last.
    """
    previous = latest_served_checkpoint()
    after = previous.through_id if previous else 0
    if through_id <= after:
        return None
    carried = previous is not None and previous.outcomes_through_id is not None
    outcomes_after = previous.outcomes_through_id if carried else 0
    if outcomes_through_id is None or outcomes_through_id < outcomes_after:
        outcomes_through_id = previous.outcomes_through_id if carried else None
    totals = {
        tally["version"]: tally
        for tally in (
            previous.tallies.values("version", "count", "extrapolated", *LIVE_ERROR_SUMS)
            if previous
            else []
        )
    }
    if not carried:
        # Sums stored before outcomes were summed are zeros, not sums: every outcome is summed.
        for tally in totals.values():
            tally.update(dict.fromkeys(LIVE_ERROR_SUMS, 0))
    since = (
        PredictionRequest.objects.served()
        .filter(pk__gt=after, pk__lte=through_id)
        .order_by()
        .values("model_version")
        .annotate(
            served=models.Count("pk"),
            outside=models.Count("pk", filter=models.Q(extrapolated=True)),
        )
    )
    for row in since:
        total = totals.setdefault(row["model_version"], empty_tally())
        total["count"] += row["served"]
        total["extrapolated"] += row["outside"]
    if outcomes_through_id is not None and outcomes_through_id > outcomes_after:
        for row in live_error_sums(after=outcomes_after, through=outcomes_through_id):
            total = totals.setdefault(row["version"], empty_tally())
            for name in LIVE_ERROR_SUMS:
                total[name] += row[name]
    histograms = input_histograms(previous, through_id=through_id)
    compared = drift.checkpoint_drift(histograms, through_id=through_id)
    with transaction.atomic():
        checkpoint = ServedCheckpoint.objects.create(
            through_id=through_id,
            has_input_histograms=True,
            outcomes_through_id=outcomes_through_id,
        )
        ServedTally.objects.bulk_create(
            ServedTally(
                checkpoint=checkpoint,
                version_id=version,
                count=total["count"],
                extrapolated=total["extrapolated"],
                **{name: total[name] for name in LIVE_ERROR_SUMS},
            )
            for version, total in totals.items()
        )
        ServedInputHistogram.objects.bulk_create(
            ServedInputHistogram(
                checkpoint=checkpoint,
                version_id=version,
                feature=name,
                # JSON's keys are text; in bin order, so a stored row reads as a histogram.
                counts={str(b): histogram.counts[b] for b in sorted(histogram.counts)},
                below=histogram.below,
                above=histogram.above,
                **drift_figures(compared.get((version, name))),
            )
            for (version, name), histogram in histograms.items()
        )
        ServedCheckpoint.objects.filter(
            through_id__lt=through_id, created_at__lt=checkpoint.created_at - KEPT_FOR
        ).delete()
    logger.info(
        "served counts checkpoint",
        extra={
            "through_id": through_id,
            "after_id": after,
            "outcomes_through_id": outcomes_through_id,
            "outcomes_after_id": outcomes_after,
            "versions": len(totals),
        },
    )
    return checkpoint


def empty_tally() -> dict:
    """A version's tally before its first answer."""
    return {"count": 0, "extrapolated": 0, **dict.fromkeys(LIVE_ERROR_SUMS, 0)}


def drift_figures(compared: "drift.FeatureDrift | None") -> dict:
    """A histogram row's drift columns; empty for a version trained before distributions were
    recorded."""
    if compared is None:
        return {"effect": None, "drifted": None, "share_outside": None}
    return {
        "effect": compared.effect,
        "drifted": compared.drifted,
        "share_outside": compared.share_outside,
    }


def input_histograms(
    previous: ServedCheckpoint | None, *, through_id: int
) -> dict[tuple[int, str], "drift.Histogram"]:
    """Each (version, input)'s histogram through `through_id`: the previous checkpoint's plus
    the rows between; every served row through it when the previous has none (stored before
    histograms were), once."""
    carried = previous is not None and previous.has_input_histograms
    after = previous.through_id if carried else 0
    histograms = drift.histograms_between(after=after, through_id=through_id)
    if carried:
        for stored in previous.input_histograms.all():
            histogram = histograms.setdefault(
                (stored.version_id, stored.feature), drift.Histogram()
            )
            histogram.counts.update({int(b): n for b, n in stored.counts.items()})
            histogram.below += stored.below
            histogram.above += stored.above
    return histograms
