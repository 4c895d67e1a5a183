"""Each served checkpoint also sums the outcomes through the seal's outcome id, and each tally
keeps the sums its version's live error is made of (services/served.py). No data migration: the
checkpoints stored before have none (outcomes_through_id empty), the live error reads every
outcome as since until the next seal, whose advance sums every outcome once."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("predictor", "0023_served_drift_figures"),
    ]

    operations = [
        migrations.AddField(
            model_name="servedcheckpoint",
            name="outcomes_through_id",
            field=models.BigIntegerField(
                blank=True, null=True, verbose_name="outcome ids through"
            ),
        ),
        migrations.AddField(
            model_name="servedtally",
            name="outcomes",
            field=models.PositiveBigIntegerField(default=0, verbose_name="outcomes"),
        ),
        migrations.AddField(
            model_name="servedtally",
            name="absolute_error",
            field=models.FloatField(default=0.0, verbose_name="sum of absolute errors"),
        ),
        migrations.AddField(
            model_name="servedtally",
            name="squared_error",
            field=models.FloatField(default=0.0, verbose_name="sum of squared errors"),
        ),
        migrations.AddField(
            model_name="servedtally",
            name="percentage_error",
            field=models.FloatField(
                default=0.0,
                help_text="Over outcomes above 0 views.",
                verbose_name="sum of relative errors",
            ),
        ),
        migrations.AddField(
            model_name="servedtally",
            name="percentage_outcomes",
            field=models.PositiveBigIntegerField(
                default=0, verbose_name="outcomes above 0 views"
            ),
        ),
        migrations.AddField(
            model_name="servedtally",
            name="inside_interval",
            field=models.PositiveBigIntegerField(default=0, verbose_name="inside the interval"),
        ),
        migrations.AddField(
            model_name="servedtally",
            name="with_interval",
            field=models.PositiveBigIntegerField(
                default=0, verbose_name="outcomes with an interval"
            ),
        ),
    ]
