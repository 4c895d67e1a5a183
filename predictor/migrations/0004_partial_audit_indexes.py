"""Fewer indexes on the audit table: every one is written by every request's INSERT.

The index on `model_version` alone repeated the first column of (model_version, created_at), and
`accepted`, `user` and `batch_id` had plain indexes that every anonymous, single, answered
request entered with a `true` or a NULL. They become partial indexes holding only refusals,
users and batches. The four old indexes are dropped by name rather than by AlterField, which on
SQLite would copy the whole audit table four times to change no column; their names are the
ones Django gave them in 0001 on both databases.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLE = "predictor_predictionrequest"
# The indexes that 0001 created, named as Django names them (the same on SQLite and PostgreSQL),
# and the columns they were on.
REPLACED_INDEXES = {
    f"{TABLE}_accepted_6cb11bf8": "accepted",
    f"{TABLE}_batch_id_827f65be": "batch_id",
    f"{TABLE}_model_version_id_31ee4217": "model_version_id",
    f"{TABLE}_user_id_07d6e58a": "user_id",
}


class Migration(migrations.Migration):
    dependencies = [
        ("predictor", "0003_activate_permission"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="predictionrequest",
                    name="accepted",
                    field=models.BooleanField(),
                ),
                migrations.AlterField(
                    model_name="predictionrequest",
                    name="batch_id",
                    field=models.UUIDField(blank=True, null=True),
                ),
                migrations.AlterField(
                    model_name="predictionrequest",
                    name="model_version",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        help_text="The version that answered; empty when the request was refused.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="predictions",
                        to="predictor.modelversion",
                    ),
                ),
                migrations.AlterField(
                    model_name="predictionrequest",
                    name="user",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "{TABLE}" ("{column}")',
                )
                for name, column in REPLACED_INDEXES.items()
            ],
        ),
        migrations.AddIndex(
            model_name="predictionrequest",
            index=models.Index(
                condition=models.Q(("accepted", False)),
                fields=["created_at"],
                name="prediction_refused",
            ),
        ),
        migrations.AddIndex(
            model_name="predictionrequest",
            index=models.Index(
                condition=models.Q(("user__isnull", False)), fields=["user"], name="prediction_user"
            ),
        ),
        migrations.AddIndex(
            model_name="predictionrequest",
            index=models.Index(
                condition=models.Q(("batch_id__isnull", False)),
                fields=["batch_id"],
                name="prediction_batch",
            ),
        ),
    ]
