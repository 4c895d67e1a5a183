"""Serve another model version: how an operator rolls back from the shell (the admin can too)."""

from django.core.management.base import BaseCommand, CommandError

from predictor import services
from predictor.models import Activation, ModelVersion


class Command(BaseCommand):
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
            raise CommandError(f"{version!r} is not a version; use a label like v3.")
        try:
            model_version = ModelVersion.objects.get(number=number)
        except ModelVersion.DoesNotExist:
            known = ", ".join(v.label for v in ModelVersion.objects.all()) or "none yet"
            raise CommandError(
                f"There is no version {version}. Stored versions: {known}."
            ) from None
        try:
            services.activate(version=model_version, door=Activation.Door.COMMAND, reason=reason)
        except services.ModelUnavailable as error:
            raise CommandError(str(error)) from error
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(f"Model {model_version.label} is now active."))
