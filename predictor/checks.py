"""System checks (`manage.py check`, `check --deploy`): the keys that sign and verify model
versions, and the font the model card's plots are drawn in.

gunicorn does not run checks, so a host without keys still starts, and refuses to serve what it
cannot verify (signing.py); these say so before a deployment goes live.
"""

from django.conf import settings
from django.core import checks

from .services import signing


@checks.register(checks.Tags.security)
def artifact_keys_are_keys(app_configs, **kwargs):
    try:
        signing.trusted_keys()
    except signing.KeyConfigurationError as error:
        return [checks.Error(str(error), id="viewsite.E001")]
    return []


@checks.register(checks.Tags.security, deploy=True)
def artifact_keys_are_set(app_configs, **kwargs):
    problems = []
    if not settings.VIEWSITE_ARTIFACT_VERIFY_KEYS and not settings.VIEWSITE_ARTIFACT_SIGNING_KEY:
        problems.append(
            checks.Warning(
                "No VIEWSITE_ARTIFACT_VERIFY_KEYS: this host trusts no signing key, so it will "
                "serve no model version.",
                hint="Set the public key printed by `manage.py make_signing_key`.",
                id="viewsite.W001",
            )
        )
    development = set(settings.VIEWSITE_DEVELOPMENT_ARTIFACT_KEYS)
    in_use = {settings.VIEWSITE_ARTIFACT_SIGNING_KEY, *settings.VIEWSITE_ARTIFACT_VERIFY_KEYS}
    if development & in_use:
        problems.append(
            checks.Warning(
                "The development artifact key pair is in use; its private key is public, so "
                "anyone could sign a model this host would serve.",
                hint="Make a pair of your own with `manage.py make_signing_key`.",
                id="viewsite.W002",
            )
        )
    return problems


@checks.register()
def plot_font_is_installed(app_configs, **kwargs):
    """`retrain` draws the card's Chinese plots in VIEWSITE_PLOT_FONT; without it their words are
    empty boxes, and nothing else would say so."""
    if settings.VIEWSITE_PLOT_FONT.is_file():
        return []
    return [
        checks.Warning(
            f"VIEWSITE_PLOT_FONT ({settings.VIEWSITE_PLOT_FONT}) is not installed, so `retrain` "
            "would draw the Chinese plots' words as empty boxes.",
            hint="Install Debian's fonts-noto-cjk, or point VIEWSITE_PLOT_FONT at a font with "
            "Chinese glyphs.",
            id="viewsite.W003",
        )
    ]
