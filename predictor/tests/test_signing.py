"""Signed model versions: who may say what a version's files are, and what every door does when
a version's signature does not hold."""

import base64
import importlib
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core import checks
from django.core.management import CommandError, call_command
from django.urls import reverse

from predictor import services
from predictor.models import ModelFile, ModelVersion, PredictionRequest
from predictor.services import registry, signing

from . import live
from .conftest import replace_stored_file

ONE = [{"likes": 1, "shares": 1}]
# A second pair, for rotation and for a signer nobody trusts (the first is in pyproject.toml).
OTHER_PRIVATE = "oMhkqiYACBZQD7fM/n9KoXzTrGYvqn78UUYqUTbJH+c="
OTHER_PUBLIC = "x/RZF+RJuhjyAf3HSkdKW0FEGA86RteO3Q0l2DlthNE="


def predict():
    info = services.RequestInfo(channel="api", client_ip="203.0.113.9")
    return services.predict(inputs=ONE, raw_inputs=ONE, info=info)


def refetched(version) -> ModelVersion:
    """The row as a worker that starts now reads it."""
    registry.clear_loaded_models()
    return ModelVersion.objects.get(pk=version.pk)


# --- What is signed ---------------------------------------------------------------------------


def test_the_manifest_binds_the_number_the_features_and_every_checksum(active_model):
    manifest = signing.manifest(active_model)
    assert manifest == signing.manifest(refetched(active_model))  # the same bytes once stored
    changes = {
        "number": 2,
        "features": ["shares", "likes"],
        "artifact_sha256": "0" * 64,
        "serving_sha256": "0" * 64,
        "plots": {
            **active_model.plots,
            "residuals-likes-en": {**active_model.plots["residuals-likes-en"], "sha256": "0" * 64},
        },
    }
    for field, value in changes.items():
        changed = refetched(active_model)
        setattr(changed, field, value)
        assert signing.manifest(changed) != manifest, field


def test_retrain_signs_with_the_configured_key(active_model):
    [(fingerprint, key)] = signing.trusted_keys().items()
    assert active_model.signing_key == fingerprint
    key.verify(base64.b64decode(active_model.signature), signing.manifest(active_model))


# --- Refusals ---------------------------------------------------------------------------------


def test_a_version_signed_by_a_key_this_server_does_not_trust_is_refused(
    db, linear_csv, settings, trained_models
):
    settings.VIEWSITE_ARTIFACT_SIGNING_KEY = OTHER_PRIVATE
    version = trained_models.store(linear_csv)
    settings.VIEWSITE_ARTIFACT_SIGNING_KEY = ""  # a web host: only the verify keys

    with pytest.raises(services.ArtifactIntegrityError, match="which this server does not trust"):
        services.load_model(refetched(version))


def test_another_keys_signature_under_the_trusted_keys_name_is_refused(active_model, settings):
    settings.VIEWSITE_ARTIFACT_SIGNING_KEY = OTHER_PRIVATE
    forged = refetched(active_model)
    signing.sign(forged)
    ModelVersion.objects.filter(pk=active_model.pk).update(signature=forged.signature)

    with pytest.raises(services.ArtifactIntegrityError, match="signature does not match"):
        services.load_model(refetched(active_model))


def test_a_signature_moved_from_another_versions_row_is_refused(db, linear_csv, trained_models):
    first = trained_models.store(linear_csv)
    second = trained_models.store(linear_csv)
    # Same data, same model: the same artifact bytes and checksums; only the number differs.
    assert first.artifact_sha256 == second.artifact_sha256
    ModelVersion.objects.filter(pk=first.pk).update(signature=second.signature)

    with pytest.raises(services.ArtifactIntegrityError, match="signature does not match"):
        services.load_model(refetched(first))
    services.load_model(refetched(second))


def test_a_plot_whose_checksum_was_changed_with_it_is_not_served(client, active_model):
    plot = active_model.plots["residuals-likes-en"]
    replace_stored_file(plot["name"], b"\x89PNG defaced")
    plots = {
        **active_model.plots,
        "residuals-likes-en": {**plot, "sha256": _sha256(b"\x89PNG defaced")},
    }
    ModelVersion.objects.filter(pk=active_model.pk).update(plots=plots)

    url = reverse("predictor:model-card-plot", args=[active_model.number, "residuals-likes-en"])
    assert client.get(url).status_code == 404


def test_the_api_and_the_form_refuse_and_audit_when_the_signature_fails(client, active_model):
    ModelVersion.objects.filter(pk=active_model.pk).update(serving_sha256="0" * 64)
    registry.clear_loaded_models()

    api = client.post(
        reverse("predictor:prediction-create"), ONE[0], content_type="application/json"
    )
    form = client.post(reverse("predictor:predict"), {"likes": "1", "shares": "1"})
    health = client.get(reverse("predictor:healthz"))

    assert (api.status_code, api.json()["code"]) == (503, "service_unavailable")
    assert "signature does not match" in api.json()["detail"]
    assert form.status_code == 503
    assert "Model v1 cannot be served: its signature does not match" in form.content.decode()
    assert health.status_code == 503
    refused = PredictionRequest.objects.order_by("pk")
    assert [(row.channel, row.accepted) for row in refused] == [("api", False), ("form", False)]
    assert all(row.errors["model"][0]["code"] == "model_unavailable" for row in refused)
    assert all("signature does not match" in row.errors["model"][0]["message"] for row in refused)


def test_a_misconfigured_verify_key_is_a_refusal_not_a_crash(active_model, settings):
    settings.VIEWSITE_ARTIFACT_VERIFY_KEYS = ["not-a-key"]
    with pytest.raises(services.ModelUnavailable, match="VIEWSITE_ARTIFACT_VERIFY_KEYS"):
        predict()


# --- Where the keys are -----------------------------------------------------------------------


def test_a_host_with_only_the_public_key_serves_and_cannot_retrain(
    transactional_db, linear_csv, artifact_root, collected_static
):
    services.retrain(data_path=linear_csv)
    env = live.app_env(artifact_root=artifact_root, static_root=collected_static, workers=1)
    del env["VIEWSITE_ARTIFACT_SIGNING_KEY"]
    assert env["VIEWSITE_ARTIFACT_VERIFY_KEYS"]

    with live.gunicorn_process(env, log_path=artifact_root.parent / "gunicorn.log") as (url, _):
        status, answer = live.post_json(f"{url}/api/predictions/", {"likes": 5, "shares": 7})
    retrain = subprocess.run(
        [sys.executable, "manage.py", "retrain", f"--data={linear_csv}"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert (status, answer["model_version"]) == (201, "v1")
    assert answer["views"] == pytest.approx(80 * 5 + 60 * 7 + 1000)
    assert retrain.returncode != 0
    assert "VIEWSITE_ARTIFACT_SIGNING_KEY is not set" in retrain.stderr
    assert ModelVersion.objects.count() == 1


def test_retrain_without_a_signing_key_refuses_before_training(db, linear_csv, settings):
    settings.VIEWSITE_ARTIFACT_SIGNING_KEY = ""
    with pytest.raises(CommandError, match="VIEWSITE_ARTIFACT_SIGNING_KEY is not set"):
        call_command("retrain", data=linear_csv, verbosity=0)
    # A dry run stores nothing, so it needs no key.
    call_command("retrain", data=linear_csv, dry_run=True, verbosity=0)
    assert ModelVersion.objects.count() == 0


def test_development_has_a_key_pair_and_production_none():
    probe = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print('PROBE', bool(s.VIEWSITE_ARTIFACT_SIGNING_KEY), s.VIEWSITE_ARTIFACT_VERIFY_KEYS)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VIEWSITE_"))}

    def settings_with(env):
        printed = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=django_settings.BASE_DIR,
            env={**clean, "DJANGO_SETTINGS_MODULE": "viewsite.settings", **env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        [line] = [line for line in printed.splitlines() if line.startswith("PROBE ")]
        return line.removeprefix("PROBE ")

    development = settings_with({"DJANGO_DEBUG": "true"})
    assert development == f"True {list(django_settings.VIEWSITE_DEVELOPMENT_ARTIFACT_KEYS[1:])}"
    assert settings_with({"DJANGO_SECRET_KEY": "x" * 50}) == "False []"


def test_make_signing_key_prints_a_pair_that_signs_and_verifies(db, capsys, settings, active_model):
    call_command("make_signing_key")
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())

    settings.VIEWSITE_ARTIFACT_SIGNING_KEY = lines["VIEWSITE_ARTIFACT_SIGNING_KEY"]
    version = refetched(active_model)
    signing.sign(version)
    settings.VIEWSITE_ARTIFACT_SIGNING_KEY = ""
    settings.VIEWSITE_ARTIFACT_VERIFY_KEYS = [lines["VIEWSITE_ARTIFACT_VERIFY_KEYS"]]
    signing.verify(version)
    assert version.signing_key != active_model.signing_key


# --- Upgrading and rotating ---------------------------------------------------------------------


def test_an_unsigned_version_is_refused_until_sign_models_signs_it(active_model, capsys):
    # As migration 0010 leaves a version trained before signatures.
    ModelVersion.objects.filter(pk=active_model.pk).update(signature="", signing_key="")
    with pytest.raises(services.ArtifactIntegrityError, match="it is not signed"):
        predict()

    call_command("sign_models", dry_run=True)
    assert "Would sign: v1." in capsys.readouterr().out
    assert refetched(active_model).signature == ""

    call_command("sign_models")
    assert "Signed: v1." in capsys.readouterr().out
    [answer] = predict()
    assert PredictionRequest.objects.get(pk=answer.pk).accepted
    call_command("sign_models")
    assert "already signed" in capsys.readouterr().out


def test_sign_models_never_signs_a_version_whose_files_or_signature_fail(
    db, linear_csv, trained_models
):
    first = trained_models.store(linear_csv)
    second = trained_models.store(linear_csv)
    ModelVersion.objects.filter(pk=first.pk).update(signature="", signing_key="")
    replace_stored_file(first.artifact_name, b"not what retrain stored")
    ModelVersion.objects.filter(pk=second.pk).update(artifact_sha256="0" * 64)

    with pytest.raises(CommandError) as refused:
        call_command("sign_models", verbosity=0)

    assert "v1 cannot be served: its artifact" in str(refused.value)
    assert "v2 cannot be served: its signature does not match" in str(refused.value)
    assert refetched(first).signature == ""
    assert refetched(second).signature == second.signature


def test_a_version_signed_by_the_old_key_serves_while_that_key_is_listed(
    db, linear_csv, settings, trained_models
):
    old = trained_models.store(linear_csv)  # signed by the key in pyproject.toml
    old_public = django_settings.VIEWSITE_ARTIFACT_VERIFY_KEYS[0]
    # Rotation: retrain now signs with the new key; the hosts list the new key and the old one.
    settings.VIEWSITE_ARTIFACT_SIGNING_KEY = OTHER_PRIVATE
    settings.VIEWSITE_ARTIFACT_VERIFY_KEYS = [OTHER_PUBLIC, old_public]
    new = trained_models.store(linear_csv, activate=False)
    assert new.signing_key != old.signing_key

    assert predict()[0].model_version == old
    registry.clear_loaded_models()
    call_command("sign_models", verbosity=0)  # re-signs the old version with the new key
    settings.VIEWSITE_ARTIFACT_SIGNING_KEY = ""
    settings.VIEWSITE_ARTIFACT_VERIFY_KEYS = [OTHER_PUBLIC]  # the old key retired
    registry.clear_loaded_models()
    assert predict()[0].model_version == old
    assert refetched(old).signing_key == new.signing_key


def test_a_version_signed_by_a_retired_key_is_refused(db, linear_csv, settings, trained_models):
    trained_models.store(linear_csv)
    settings.VIEWSITE_ARTIFACT_SIGNING_KEY = ""
    settings.VIEWSITE_ARTIFACT_VERIFY_KEYS = [OTHER_PUBLIC]
    registry.clear_loaded_models()  # keys are read when a worker starts
    with pytest.raises(services.ArtifactIntegrityError, match="does not trust"):
        predict()


def test_migration_0010_imports_the_files_of_older_versions_unsigned(
    active_model, artifact_root, settings
):
    # A version as it stood before the upgrade: its files in the folder, none in the database.
    files = dict(ModelFile.objects.values_list("name", "content"))
    ModelFile.objects.all().delete()
    ModelVersion.objects.filter(pk=active_model.pk).update(signature="", signing_key="")
    artifact_root.mkdir()
    for name, content in files.items():
        (artifact_root / name).write_bytes(bytes(content))
    (artifact_root / active_model.plots["residuals-likes-en"]["name"]).unlink()  # one went missing
    migration = importlib.import_module("predictor.migrations.0010_artifacts_in_database")

    from django.apps import apps

    migration.import_files(apps, None)

    imported = dict(ModelFile.objects.values_list("name", "content"))
    assert {name: bytes(content) for name, content in imported.items()} == {
        name: bytes(content)
        for name, content in files.items()
        if name != active_model.plots["residuals-likes-en"]["name"]
    }
    with pytest.raises(services.ArtifactIntegrityError, match="it is not signed"):
        predict()
    with pytest.raises(CommandError, match="residuals-likes"):
        call_command("sign_models", verbosity=0)


# --- System checks ------------------------------------------------------------------------------


def test_deploy_checks_warn_without_keys_and_with_the_development_pair(settings):
    def ids(**overrides):
        for name, value in overrides.items():
            setattr(settings, name, value)
        found = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
        return {message.id for message in found if message.id.startswith("viewsite.")}

    assert ids() == set()
    assert ids(VIEWSITE_ARTIFACT_SIGNING_KEY="", VIEWSITE_ARTIFACT_VERIFY_KEYS=[]) == {
        "viewsite.W001"
    }
    development = list(settings.VIEWSITE_DEVELOPMENT_ARTIFACT_KEYS[1:])
    assert ids(VIEWSITE_ARTIFACT_VERIFY_KEYS=development) == {"viewsite.W002"}
    assert ids(VIEWSITE_ARTIFACT_VERIFY_KEYS=["c2hvcnQ="]) == {"viewsite.E001"}


def _sha256(content: bytes) -> str:
    import hashlib

    return hashlib.sha256(content).hexdigest()
