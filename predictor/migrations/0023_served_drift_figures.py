"""Each served input histogram keeps its version's drift over every answer through its
checkpoint, computed when the checkpoint is stored (services/served.py), for /metrics. No data
migration: the checkpoints stored before have none, and the next seal stores one that has."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("predictor", "0022_replay_runs"),
    ]

    operations = [
        migrations.AddField(
            model_name="servedinputhistogram",
            name="drifted",
            field=models.BooleanField(blank=True, null=True, verbose_name="drifted"),
        ),
        migrations.AddField(
            model_name="servedinputhistogram",
            name="effect",
            field=models.FloatField(
                blank=True,
                help_text="The KS statistic under 1,000 answers, else the Wasserstein distance in training standard deviations, over every answer through this checkpoint. Empty when the version was trained before its data's distribution was recorded, or the checkpoint was stored before drift was (the next seal stores it).",
                null=True,
                verbose_name="difference from the training data",
            ),
        ),
        migrations.AddField(
            model_name="servedinputhistogram",
            name="share_outside",
            field=models.FloatField(
                blank=True, null=True, verbose_name="share outside the training range"
            ),
        ),
    ]
