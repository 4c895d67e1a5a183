"""A candidate version replayed on the active one's served requests: each run's figures, kept
for its model card (services/replay.py)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("predictor", "0021_served_input_histograms"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReplayRun",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "computed_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="computed at"
                    ),
                ),
                (
                    "since",
                    models.DateTimeField(
                        blank=True,
                        help_text="Empty: from the first one.",
                        null=True,
                        verbose_name="requests since",
                    ),
                ),
                ("rows", models.PositiveBigIntegerField(verbose_name="requests replayed")),
                (
                    "through_id",
                    models.BigIntegerField(
                        blank=True,
                        help_text="The newest request replayed; empty when there was none.",
                        null=True,
                        verbose_name="prediction ids through",
                    ),
                ),
                ("report", models.JSONField(default=dict, verbose_name="figures")),
                (
                    "candidate",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="replays",
                        to="predictor.modelversion",
                        verbose_name="candidate",
                    ),
                ),
                (
                    "incumbent",
                    models.ForeignKey(
                        help_text="The version that was active and served the requests.",
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="predictor.modelversion",
                        verbose_name="replayed against",
                    ),
                ),
            ],
            options={
                "verbose_name": "replay",
                "verbose_name_plural": "replays",
                "ordering": ["-computed_at", "-id"],
                "indexes": [
                    models.Index(
                        fields=["candidate", "computed_at"], name="replay_candidate_latest"
                    )
                ],
            },
        ),
    ]
