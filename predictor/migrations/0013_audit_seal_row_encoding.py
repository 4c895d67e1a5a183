from django.db import migrations, models

from predictor import append_only


def reinstall_triggers(apps, schema_editor):
    """SQLite adds the column by rebuilding the seal table, which drops its triggers."""
    append_only.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("predictor", "0012_served_counts")]

    operations = [
        migrations.AddField(
            model_name="auditseal",
            name="row_encoding",
            field=models.CharField(
                choices=[
                    ("json", "canonical JSON, hashed in Python"),
                    ("postgresql", "PostgreSQL's binary row format, hashed by PostgreSQL"),
                ],
                default="json",
                max_length=16,
                verbose_name="row encoding",
            ),
        ),
        migrations.RunPython(reinstall_triggers, migrations.RunPython.noop),
    ]
