from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("predictor", "0004_partial_audit_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="serving_name",
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name="modelversion",
            name="serving_sha256",
            field=models.CharField(
                blank=True, max_length=64, verbose_name="serving file sha256"
            ),
        ),
    ]
