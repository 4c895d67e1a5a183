import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count


def count_what_was_served(apps, schema_editor):
    """Start each version's count from the audit rows written before counts were kept."""
    PredictionRequest = apps.get_model("predictor", "PredictionRequest")
    ServedCount = apps.get_model("predictor", "ServedCount")
    served = (
        PredictionRequest.objects.filter(accepted=True, model_version__isnull=False)
        .order_by()
        .values("model_version")
        .annotate(total=Count("pk"))
    )
    ServedCount.objects.bulk_create(
        ServedCount(version_id=row["model_version"], shard=0, count=row["total"])
        for row in served
    )


class Migration(migrations.Migration):
    dependencies = [("predictor", "0011_audit_at_scale")]

    operations = [
        migrations.CreateModel(
            name="ServedCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("shard", models.PositiveSmallIntegerField(verbose_name="shard")),
                (
                    "count",
                    models.PositiveBigIntegerField(default=0, verbose_name="predictions"),
                ),
                (
                    "version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="served_counts",
                        to="predictor.modelversion",
                        verbose_name="model version",
                    ),
                ),
            ],
            options={
                "verbose_name": "predictions served",
                "verbose_name_plural": "predictions served",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("version", "shard"), name="one_served_count_per_shard"
                    )
                ],
            },
        ),
        migrations.RunPython(count_what_was_served, migrations.RunPython.noop, elidable=True),
    ]
