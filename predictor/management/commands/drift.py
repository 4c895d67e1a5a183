"""Whether a version's inputs have drifted from the data it was trained on: for cron or CI.

Prints, per input, the test used, its effect size, the verdict and the share of answers outside
the training range, for every answer the version served and for its latest ones (or those since
--since). The exit status is the answer a script acts on: 0 no input has drifted, 1 one has,
2 the question could not be asked (no such version, a date that is not one).
"""

import sys

from django.core.management.base import CommandError
from django.utils.translation import gettext

from predictor import display, services
from predictor.management.base import ViewsiteCommand, stored_version, table
from predictor.models import ModelVersion
from predictor.services import drift

DRIFTED = 1
ERROR = 2


class Command(ViewsiteCommand):
    help = (
        "Compare the inputs a version answered with its training data, per input; exit 1 when "
        "one has drifted, 2 on an error."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "version", nargs="?", help="The version label (v3) or number (default: the active one)."
        )
        parser.add_argument(
            "--since",
            help="Compare the answers since this date (2026-12-01 or 2026-12-01T08:00) instead "
            f"of the latest {drift.DRIFT_WINDOW:,}.",
        )

    def handle(self, *args, version, since, **options):
        model_version = self.version(version)
        moment = None
        if since is not None:
            try:
                moment = services.read_since(since)
            except services.SinceRefused as refused:
                raise CommandError(str(refused), returncode=ERROR) from refused
        report = services.version_drift(model_version, since=moment)
        write = self.stdout.write
        write(
            gettext("Model %(version)s: its inputs compared with the data it was trained on.")
            % {"version": model_version.label}
        )
        if not report.recorded:
            write(
                gettext("Trained before its data's distribution was recorded; retrain to compare.")
            )
            return
        if moment is not None:
            recent_heading = gettext("Answers since %(when)s") % {"when": display.when(moment)}
        else:
            recent_heading = gettext("Its latest %(count)s answers") % {
                "count": display.count(drift.DRIFT_WINDOW)
            }
        for heading, compared in (
            (gettext("Every answer"), report.overall),
            (recent_heading, report.recent),
        ):
            write("")
            write(gettext("%(window)s:") % {"window": heading})
            for line in self.lines(compared):
                write(line)
        write("")
        write(
            gettext(
                "effect: under %(rows)s answers, the largest gap between the two shares of "
                "articles below any value (0 to 1, drifted when the test's p is under "
                "%(p)s); from %(rows)s up, how far the answers' values are from the training "
                "values on average, in training standard deviations (drifted at %(distance)s). "
                "outside: share of answers beyond the training range."
            )
            % {
                "rows": display.count(drift.DRIFT_KS_MAX_ROWS),
                "p": display.decimal(drift.DRIFT_P_VALUE, 2),
                "distance": display.decimal(drift.DRIFT_DISTANCE, 1),
            }
        )
        if report.drifted:
            names = gettext(", ").join(str(feature.title) for feature in report.drifted_features)
            write(self.style.WARNING(gettext("Drifted: %(inputs)s.") % {"inputs": names}))
            sys.exit(DRIFTED)

    def lines(self, compared: list[drift.FeatureDrift]) -> list[str]:
        headings = (
            gettext("input"),
            gettext("test"),
            gettext("effect"),
            "p",
            gettext("verdict"),
            gettext("outside"),
            gettext("answers"),
        )
        rows = [
            (
                str(feature.feature.title),
                feature.test_title or "-",
                display.decimal(feature.effect, 3) or "-",
                display.decimal(feature.p_value, 3) or "-",
                feature.verdict,
                display.percent(feature.share_outside) or "-",
                display.count(feature.served),
            )
            for feature in compared
        ]
        heading, *lines = table([headings, *rows], left=2)
        return [
            heading,
            *(
                self.style.WARNING(line) if feature.drifted else line
                for feature, line in zip(compared, lines, strict=True)
            ),
        ]

    def version(self, label: str | None) -> ModelVersion:
        if label is None:
            version = ModelVersion.objects.filter(is_active=True).first()
            if version is None:
                raise CommandError(
                    gettext("No version is active; name one, e.g. `drift v3`."), returncode=ERROR
                )
            return version
        return stored_version(label, returncode=ERROR)
