"""The model versions at a glance: how each was made, how good it was, how it is really doing.

What an operator reads before a rollback (`manage.py activate vN --reason ...`): the active
version, each version's cross-validated metrics and interval, and its live error from recorded
outcomes, flagged when clearly worse than cross-validation promised.
"""

from django.core.management.base import BaseCommand
from django.utils import timezone

from predictor.models import Activation, ModelVersion


class Command(BaseCommand):
    help = "List model versions with their metrics, live error and the recent activations."

    def add_arguments(self, parser):
        parser.add_argument(
            "--history", type=int, default=5, help="How many recent activations to show (5)."
        )

    def handle(self, *args, history, verbosity, **options):
        versions = list(ModelVersion.objects.with_live_error())
        write = self.stdout.write
        if not versions:
            write("No model version yet. Run `manage.py retrain`.")
            return
        write(
            f"  {'version':<9}{'algorithm':<12}{'CV R²':>8}{'CV MAE':>11}{'cover':>8}"
            f"{'served':>9}{'outcomes':>10}{'live MAE':>11}{'live RMSE':>11}{'MAPE':>8}"
            f"{'inside':>8}"
        )
        for version in versions:
            line = (
                f"{'*' if version.is_active else ' '} {version.label:<9}"
                f"{version.algorithm_name:<12}{version.cv_r2:>8.4f}{version.cv_mae:>11,.0f}"
                f"{_percent(version.cv_interval_coverage):>8}{version.live_predictions:>9,}"
                f"{version.live_outcomes:>10,}{_number(version.live_mae):>11}"
                f"{_number(version.live_rmse):>11}{_percent(version.live_mape):>8}"
                f"{_percent(version.live_coverage):>8}"
            )
            write(self.style.SUCCESS(line) if version.is_active else line)
            if version.live_error_problem:
                write(self.style.WARNING(f"    ⚠ {version.label}: {version.live_error_problem}"))
        write("* active. cover: interval coverage on held-out folds; inside: share of outcomes")
        write("  inside the stated interval.")
        activations = Activation.objects.select_related("version", "previous", "user")[:history]
        if history and activations:
            write("")
            write("Recent activations:")
            for activation in activations:
                who = activation.user.get_username() if activation.user else "-"
                previous = activation.previous.label if activation.previous else "none"
                write(
                    f"  {timezone.localtime(activation.activated_at):%Y-%m-%d %H:%M:%S}  "
                    f"{activation.version.label} "
                    f"(was {previous}) via {activation.door} by {who}: "
                    f"{activation.reason_text() or '-'}"
                )


def _number(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _percent(value) -> str:
    return "-" if value is None else f"{value:.1%}"
