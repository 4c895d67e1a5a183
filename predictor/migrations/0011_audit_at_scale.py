"""The audit trail at ten million rows: indexes for what the auditor filters and searches by.

- A version's records: (model_version, created_at, id) replaces (model_version, created_at), so
  that a version's newest records are read in the list's full order from it. With the shorter
  index PostgreSQL preferred scanning the date index backwards for them, which for an old
  version meant reading past millions of newer rows.
- The channel filter: one partial index per rarer door (form, command line), newest first, so
  that their first page and bounded count read only their own rows. API requests, the bulk of
  the trail and the ones on the busiest path, enter neither.
- The search by client IP (an address, or its beginning such as `203.0.113.`): on PostgreSQL
  Django compares HOST(client_ip) with LIKE, so the index is on that expression, with
  text_pattern_ops so that a prefix is a range in it. SQLite has no HOST() and a small trail;
  there the search reads the table, as before.

bench/README.md ("The audit trail at scale") has the figures.
"""

from django.db import migrations, models

TABLE = "predictor_predictionrequest"
IP_INDEX = "prediction_client_ip_text"


def add_ip_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{IP_INDEX}" ON "{TABLE}" '
            '(HOST("client_ip") text_pattern_ops)'
        )


def drop_ip_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{IP_INDEX}"')


class Migration(migrations.Migration):
    dependencies = [("predictor", "0010_artifacts_in_database")]

    operations = [
        migrations.RemoveIndex(
            model_name="predictionrequest", name="predictor_p_model_v_e50de3_idx"
        ),
        migrations.AddIndex(
            model_name="predictionrequest",
            index=models.Index(
                fields=["model_version", "created_at", "id"], name="prediction_version_newest"
            ),
        ),
        migrations.AddIndex(
            model_name="predictionrequest",
            index=models.Index(
                condition=models.Q(("channel", "form")),
                fields=["created_at"],
                name="prediction_form",
            ),
        ),
        migrations.AddIndex(
            model_name="predictionrequest",
            index=models.Index(
                condition=models.Q(("channel", "cli")),
                fields=["created_at"],
                name="prediction_cli",
            ),
        ),
        migrations.RunPython(add_ip_index, drop_ip_index, elidable=False),
    ]
