"""Tamper evidence for the audit trail (issue 13 §4): the seals' table, and triggers that make the
database itself refuse UPDATE and DELETE on the audit rows, the outcomes and the seals."""

import django.utils.timezone
from django.db import migrations, models

from predictor import append_only


def install_triggers(apps, schema_editor):
    append_only.install(schema_editor.connection)


def drop_triggers(apps, schema_editor):
    append_only.drop(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("predictor", "0008_translated_labels")]

    operations = [
        migrations.CreateModel(
            name='AuditSeal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.PositiveIntegerField(unique=True, verbose_name='number')),
                ('sealed_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='sealed at')),
                ('cutoff', models.DateTimeField(help_text='Rows younger than this were left to the next seal.', verbose_name='rows written before')),
                ('previous_digest', models.CharField(blank=True, max_length=64, verbose_name='previous digest')),
                ('digest', models.CharField(max_length=64, verbose_name='digest')),
                ('columns', models.JSONField(help_text='The columns hashed, per table, in order.', verbose_name='columns')),
                ('predictions_after_id', models.BigIntegerField(verbose_name='prediction ids after')),
                ('predictions_through_id', models.BigIntegerField(verbose_name='prediction ids through')),
                ('prediction_count', models.PositiveIntegerField(verbose_name='prediction requests')),
                ('prediction_ids', models.BinaryField(verbose_name='prediction id runs')),
                ('prediction_hashes', models.BinaryField(verbose_name='prediction row hashes')),
                ('outcomes_after_id', models.BigIntegerField(verbose_name='outcome ids after')),
                ('outcomes_through_id', models.BigIntegerField(verbose_name='outcome ids through')),
                ('outcome_count', models.PositiveIntegerField(verbose_name='outcomes')),
                ('outcome_ids', models.BinaryField(verbose_name='outcome id runs')),
                ('outcome_hashes', models.BinaryField(verbose_name='outcome row hashes')),
            ],
            options={
                'verbose_name': 'audit seal',
                'verbose_name_plural': 'audit seals',
                'ordering': ['-number'],
            },
        ),
        # After the seals' table exists: its rows are append-only too.
        migrations.RunPython(install_triggers, drop_triggers),
    ]
