"""Serve another model version: how an operator rolls back from the shell (the admin can too).

Before switching it replays the version on the answers the active one served (services/replay.py)
and prints how its answers would differ and, where real views were recorded, whether it would
miss them by less. A fresh run, not the latest stored one: that one may be old, or against
another version than the one being replaced, and the moment of switching is when the figures
matter. `--no-replay` skips it, for a rollback that cannot wait for a long trail to be read.
"""

from django.core.management.base import CommandError
from django.utils.translation import gettext

from predictor import services
from predictor.management.base import ViewsiteCommand, stored_version
from predictor.management.replays import write_replay
from predictor.models import Activation


class Command(ViewsiteCommand):
    help = "Activate a stored model version, e.g. `activate v3`. Every worker follows at once."

    def add_arguments(self, parser):
        parser.add_argument("version", help="The version label (v3) or number (3).")
        parser.add_argument(
            "--reason",
            default="",
            help="Why, for the activation history (e.g. 'v7 over-predicts since the redesign').",
        )
        parser.add_argument(
            "--no-replay",
            action="store_true",
            help="Switch at once, without replaying the version on the served answers first.",
        )

    def handle(self, *args, version, reason, no_replay, verbosity, **options):
        model_version = stored_version(version)
        if not no_replay:
            self._replay(model_version, verbosity)
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

    def _replay(self, candidate, verbosity: int) -> None:
        try:
            report = services.replay(candidate)
        except services.ReplayRefused:
            # Nothing to compare with: no version is active, or this one already is.
            return
        except services.ModelUnavailable as error:
            raise CommandError(str(error)) from error
        services.store_replay(report)
        if verbosity >= 1:
            write_replay(self, report, candidate_label=candidate.label)
