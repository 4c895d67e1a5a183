"""Served counts summed from the audit trail at a checkpoint, no longer written per request.

Until now `predict` added each answer to ServedCount in the audit row's transaction. From here a
version's figures are its tally at the latest ServedCheckpoint plus its audit rows since
(predictor/services/served.py). The first checkpoint is what ServedCount holds, through the
newest audit row: rows written before 0017 do not record `extrapolated`, so their share can only
come from there. ServedCount itself is left for 0019 to remove: workers still on the old code
write to it until they are reloaded (deploy/README.md, Updating).
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def start_from_what_was_counted(apps, schema_editor):
    """A checkpoint through the newest audit row, with each version's ServedCount totals."""
    PredictionRequest = apps.get_model("predictor", "PredictionRequest")
    ServedCount = apps.get_model("predictor", "ServedCount")
    ServedCheckpoint = apps.get_model("predictor", "ServedCheckpoint")
    ServedTally = apps.get_model("predictor", "ServedTally")
    if schema_editor.connection.vendor == "postgresql":
        # Workers on the old code may be answering. SHARE waits for every transaction that is
        # inserting audit rows (and so adding to ServedCount in the same transaction) to end,
        # and holds new ones until this commits: the newest id and the totals then describe the
        # same rows, and every later row gets a higher id. SQLite's migration already holds the
        # write lock (BEGIN IMMEDIATE).
        schema_editor.execute("LOCK TABLE predictor_predictionrequest IN SHARE MODE")
    through = PredictionRequest.objects.aggregate(newest=models.Max("pk"))["newest"]
    totals = (
        ServedCount.objects.order_by()
        .values("version")
        .annotate(served=models.Sum("count"), outside=models.Sum("extrapolated"))
    )
    if through is None and not totals:
        return  # a new database: the figures are counted from its first row
    checkpoint = ServedCheckpoint.objects.create(through_id=through or 0)
    ServedTally.objects.bulk_create(
        ServedTally(
            checkpoint=checkpoint,
            version_id=total["version"],
            count=total["served"],
            extrapolated=total["outside"],
        )
        for total in totals
    )


def count_served_again(apps, schema_editor):
    """Back to ServedCount (shard 0): the latest checkpoint's tallies plus the rows since."""
    PredictionRequest = apps.get_model("predictor", "PredictionRequest")
    ServedCount = apps.get_model("predictor", "ServedCount")
    ServedCheckpoint = apps.get_model("predictor", "ServedCheckpoint")
    latest = ServedCheckpoint.objects.order_by("-through_id").first()
    totals = {}
    if latest is not None:
        for tally in latest.tallies.all():
            totals[tally.version_id] = [tally.count, tally.extrapolated]
    since = (
        PredictionRequest.objects.filter(accepted=True, pk__gt=latest.through_id if latest else 0)
        .exclude(channel="preview")
        .order_by()
        .values("model_version")
        .annotate(
            served=models.Count("pk"),
            outside=models.Count("pk", filter=models.Q(extrapolated=True)),
        )
    )
    for row in since:
        total = totals.setdefault(row["model_version"], [0, 0])
        total[0] += row["served"]
        total[1] += row["outside"]
    ServedCount.objects.all().delete()
    ServedCount.objects.bulk_create(
        ServedCount(version_id=version, shard=0, count=count, extrapolated=outside)
        for version, (count, outside) in totals.items()
    )


class Migration(migrations.Migration):
    dependencies = [("predictor", "0017_audit_extrapolated")]

    operations = [
        migrations.CreateModel(
            name="ServedCheckpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "through_id",
                    models.BigIntegerField(unique=True, verbose_name="prediction ids through"),
                ),
                (
                    "created_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="created at"
                    ),
                ),
            ],
            options={
                "verbose_name": "served counts checkpoint",
                "verbose_name_plural": "served counts checkpoints",
                "ordering": ["-through_id"],
            },
        ),
        migrations.CreateModel(
            name="ServedTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("count", models.PositiveBigIntegerField(verbose_name="predictions")),
                (
                    "extrapolated",
                    models.PositiveBigIntegerField(verbose_name="outside the training range"),
                ),
                (
                    "checkpoint",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tallies",
                        to="predictor.servedcheckpoint",
                        verbose_name="checkpoint",
                    ),
                ),
                (
                    "version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="served_tallies",
                        to="predictor.modelversion",
                        verbose_name="model version",
                    ),
                ),
            ],
            options={
                "verbose_name": "served tally",
                "verbose_name_plural": "served tallies",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("checkpoint", "version"), name="one_served_tally_per_version"
                    )
                ],
            },
        ),
        migrations.RunPython(start_from_what_was_counted, count_served_again),
    ]
