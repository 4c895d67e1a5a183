"""Serve another model version: how an operator rolls back from the shell (the admin can too)."""

from django.core.management.base import CommandError
from django.utils.translation import gettext

from predictor import services
from predictor.management.base import ViewsiteCommand
from predictor.models import Activation, ModelVersion


class Command(ViewsiteCommand):
    help = "Activate a stored model version, e.g. `activate v3`. Every worker follows at once."

    def add_arguments(self, parser):
        parser.add_argument("version", help="The version label (v3) or number (3).")
        parser.add_argument(
            "--reason",
            default="",
            help="Why, for the activation history (e.g. 'v7 over-predicts since the redesign').",
        )

    def handle(self, *args, version, reason, verbosity, **options):
        number = ModelVersion.number_from_label(version)
        if number is None:
            raise CommandError(
                gettext("“%(version)s” is not a version; use a label like v3.")
                % {"version": version}
            )
        try:
            model_version = ModelVersion.objects.get(number=number)
        except ModelVersion.DoesNotExist:
            known = ", ".join(v.label for v in ModelVersion.objects.all()) or gettext("none yet")
            raise CommandError(
                gettext("There is no version %(version)s. Stored versions: %(known)s.")
                % {"version": version, "known": known}
            ) from None
        try:
            services.activate(version=model_version, door=Activation.Door.COMMAND, reason=reason)
        except services.ModelUnavailable as error:
            raise CommandError(str(error)) from error
        if verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    gettext("Model %(version)s is now active.") % {"version": model_version.label}
                )
            )
