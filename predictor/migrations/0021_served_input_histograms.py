"""Each served checkpoint keeps, per version and input, how many answers fell in each bin: what
drift is measured on (predictor/services/drift.py) without reading the trail. Checkpoints stored
before have none (has_input_histograms false); the first advance after this sums every served
row once, and each later one carries the last forward."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("predictor", "0020_activation_reason_codes"),
    ]

    operations = [
        migrations.AddField(
            model_name="servedcheckpoint",
            name="has_input_histograms",
            field=models.BooleanField(default=False, verbose_name="with input histograms"),
        ),
        migrations.CreateModel(
            name="ServedInputHistogram",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("feature", models.CharField(max_length=20, verbose_name="input")),
                ("counts", models.JSONField(default=dict, verbose_name="answers per bin")),
                (
                    "below",
                    models.PositiveBigIntegerField(
                        default=0, verbose_name="below the training range"
                    ),
                ),
                (
                    "above",
                    models.PositiveBigIntegerField(
                        default=0, verbose_name="above the training range"
                    ),
                ),
                (
                    "checkpoint",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="input_histograms",
                        to="predictor.servedcheckpoint",
                        verbose_name="checkpoint",
                    ),
                ),
                (
                    "version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="served_input_histograms",
                        to="predictor.modelversion",
                        verbose_name="model version",
                    ),
                ),
            ],
            options={
                "verbose_name": "served input histogram",
                "verbose_name_plural": "served input histograms",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("checkpoint", "version", "feature"),
                        name="one_served_input_histogram_per_feature",
                    )
                ],
            },
        ),
    ]
