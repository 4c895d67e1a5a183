"""Each version's count of answers outside its training range, kept as they are served.

The model card's extrapolation share counted a version's audit rows: a second at ten million
rows. `predict` now adds to ServedCount.extrapolated as it adds to count; this starts the new
counts from the trail written before, as migration 0012 did for the served counts.
"""

from django.db import migrations, models
from django.db.models import Count, Q

# The inputs when this migration was written; a later feature has no rows to count here.
INPUT_NAMES = ("likes", "shares")


def count_what_was_extrapolated(apps, schema_editor):
    ModelVersion = apps.get_model("predictor", "ModelVersion")
    PredictionRequest = apps.get_model("predictor", "PredictionRequest")
    ServedCount = apps.get_model("predictor", "ServedCount")
    for version in ModelVersion.objects.all():
        columns = version.training_summary.get("columns", {})
        if not all(name in columns for name in INPUT_NAMES):
            continue  # trained before summaries were recorded: the card shows no share
        outside = Q()
        for name in INPUT_NAMES:
            outside |= Q(**{f"{name}__lt": columns[name]["min"]})
            outside |= Q(**{f"{name}__gt": columns[name]["max"]})
        extrapolated = (
            PredictionRequest.objects.filter(model_version=version, accepted=True)
            .filter(outside)
            .aggregate(total=Count("pk"))["total"]
        )
        if extrapolated:
            # Shard 0 holds what was counted from the trail (migration 0012 put it there too).
            ServedCount.objects.update_or_create(
                version=version, shard=0, defaults={"extrapolated": extrapolated}
            )


class Migration(migrations.Migration):
    dependencies = [("predictor", "0014_covering_ip_index")]

    operations = [
        migrations.AddField(
            model_name="servedcount",
            name="extrapolated",
            field=models.PositiveBigIntegerField(
                default=0, verbose_name="outside the training range"
            ),
        ),
        migrations.RunPython(count_what_was_extrapolated, migrations.RunPython.noop),
    ]
