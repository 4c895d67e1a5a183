"""The model versions at a glance: how each was made, how good it was, how it is really doing.

What an operator reads before a rollback (`manage.py activate vN --reason ...`): the active
version, each version's cross-validated metrics and interval, and its live error from recorded
outcomes, flagged when clearly worse than cross-validation promised.
"""

from django.utils.translation import gettext

from predictor.display import count, decimal, percent, when
from predictor.management.base import ViewsiteCommand, table
from predictor.models import Activation, ModelVersion


class Command(ViewsiteCommand):
    help = "List model versions with their metrics, live error and the recent activations."

    def add_arguments(self, parser):
        parser.add_argument(
            "--history", type=int, default=5, help="How many recent activations to show (5)."
        )

    def handle(self, *args, history, verbosity, **options):
        versions = list(ModelVersion.objects.with_live_error())
        write = self.stdout.write
        if not versions:
            write(gettext("No model version yet. Run `manage.py retrain`."))
            return
        headings = (
            "",
            gettext("version"),
            gettext("algorithm"),
            gettext("CV R²"),
            gettext("CV MAE"),
            gettext("cover"),
            gettext("served"),
            gettext("outcomes"),
            gettext("live MAE"),
            gettext("live RMSE"),
            "MAPE",
            gettext("inside"),
        )
        rows = [
            (
                "*" if version.is_active else "",
                version.label,
                version.algorithm_name,
                decimal(version.cv_r2, 3),
                count(version.cv_mae),
                _or_dash(percent(version.cv_interval_coverage)),
                count(version.live_predictions),
                count(version.live_outcomes),
                _or_dash(count(version.live_mae)),
                _or_dash(count(version.live_rmse)),
                _or_dash(percent(version.live_mape)),
                _or_dash(percent(version.live_coverage)),
            )
            for version in versions
        ]
        heading, *lines = table([headings, *rows], left=3)
        write(heading)
        for version, line in zip(versions, lines, strict=True):
            write(self.style.SUCCESS(line) if version.is_active else line)
            if version.live_error_problem:
                write(
                    self.style.WARNING(
                        gettext("    ⚠ %(version)s: %(problem)s")
                        % {"version": version.label, "problem": version.live_error_problem}
                    )
                )
        write(
            gettext(
                "* active. cover: interval coverage on held-out folds; inside: share of "
                "outcomes inside the stated interval."
            )
        )
        activations = Activation.objects.select_related("version", "previous", "user")[:history]
        if history and activations:
            write("")
            write(gettext("Recent activations:"))
            for activation in activations:
                figures = {
                    "when": when(activation.activated_at),
                    "version": activation.version.label,
                    "previous": activation.previous.label
                    if activation.previous
                    else gettext("none"),
                    "door": activation.get_door_display(),
                    "who": activation.user.get_username() if activation.user else "-",
                    "reason": activation.reason_text() or "-",
                }
                write(
                    gettext(
                        "  %(when)s  %(version)s (was %(previous)s) via %(door)s by %(who)s: "
                        "%(reason)s"
                    )
                    % figures
                )


def _or_dash(text: str) -> str:
    """A figure not known yet (no outcome, an older version) reads "-", not blank."""
    return text or "-"
