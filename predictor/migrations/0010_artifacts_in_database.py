"""Model artifacts move from files into the database, signed.

The files of every existing version (its joblib artifact, its serving spec, its plots) are read
from the folder `retrain` used to write them to (settings.ARTIFACT_ROOT, VIEWSITE_ARTIFACT_ROOT)
into ModelFile rows, byte for byte; their sha256 stays on the version and is checked at load as
before. A migration holds no signing key, so these versions arrive unsigned and no host serves
them until `manage.py sign_models` signs them where the signing key is (deploy/README.md).

A file that is gone is reported and left out: its version could not be served before either.
Migrating back writes the files into the folder again.
"""

import logging
from pathlib import Path

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

logger = logging.getLogger("predictor.migrations")


def _file_names(version) -> list[str]:
    names = [version.artifact_name, version.serving_name]
    names += [plot.get("name", "") for plot in (version.plots or {}).values()]
    return [name for name in names if name]


def import_files(apps, schema_editor):
    ModelVersion = apps.get_model("predictor", "ModelVersion")
    ModelFile = apps.get_model("predictor", "ModelFile")
    folder = Path(settings.ARTIFACT_ROOT)
    for version in ModelVersion.objects.order_by("number").iterator():
        for name in _file_names(version):
            try:
                content = (folder / name).read_bytes()
            except OSError as error:
                logger.warning(
                    "model file not imported version=v%s name=%s error=%s",
                    version.number,
                    name,
                    error,
                )
                continue
            ModelFile.objects.create(version=version, name=name, content=content)


def export_files(apps, schema_editor):
    ModelFile = apps.get_model("predictor", "ModelFile")
    folder = Path(settings.ARTIFACT_ROOT)
    folder.mkdir(parents=True, exist_ok=True)
    for stored in ModelFile.objects.iterator():
        path = folder / stored.name
        if not path.exists():
            path.write_bytes(bytes(stored.content))


class Migration(migrations.Migration):
    dependencies = [("predictor", "0009_audit_tamper_evidence")]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="signature",
            field=models.CharField(blank=True, max_length=100, verbose_name="signature"),
        ),
        migrations.AddField(
            model_name="modelversion",
            name="signing_key",
            field=models.CharField(
                blank=True,
                help_text="Fingerprint of the public key that verifies the signature.",
                max_length=16,
                verbose_name="signing key",
            ),
        ),
        migrations.CreateModel(
            name="ModelFile",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=500, unique=True, verbose_name="name")),
                ("content", models.BinaryField(verbose_name="content")),
                (
                    "version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="files",
                        to="predictor.modelversion",
                        verbose_name="version",
                    ),
                ),
            ],
            options={"verbose_name": "model file", "verbose_name_plural": "model files"},
        ),
        migrations.RunPython(import_files, export_files),
    ]
