"""Train a new model version from a CSV file, judge it, and swap it in while the site keeps serving.

Workers read the active version from the database on every request, so activation here is all it
takes: no restart. A bad file or a candidate that fails the quality gate leaves everything as it
was and exits non-zero with a message saying what to do.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from predictor import features, services


class Command(BaseCommand):
    help = "Train a model on a CSV file (default: the sample in data/), record it and activate it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--data",
            type=Path,
            default=None,
            help="CSV with columns 点赞数,转发数,浏览量 (default: the sample in data/).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Store and activate even if the quality gate fails.",
        )
        parser.add_argument(
            "--no-activate",
            action="store_true",
            help="Store the new version but keep serving the current one.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Train and report; store and change nothing."
        )
        parser.add_argument(
            "--if-no-model",
            action="store_true",
            help="Do nothing when a model is already active (used on first start).",
        )

    def handle(self, *args, **options):
        try:
            self._retrain(**options)
        except DatabaseError as error:
            # A full disk or a database that went away: say so, without a traceback. Nothing
            # was committed, so the active model is unchanged.
            raise CommandError(
                f"The database could not be read or written ({error}). Nothing was stored and "
                "the active model is unchanged."
            ) from error

    def _retrain(self, *, data, force, no_activate, dry_run, if_no_model, verbosity, **options):
        if if_no_model and services.active_version() is not None:
            if verbosity >= 1:
                active = services.active_version()
                self.stdout.write(f"Model {active.label} is active; nothing to train.")
            return
        data_path = data or settings.VIEWSITE_DEFAULT_DATA
        try:
            report = services.retrain(
                data_path=data_path, activate=not no_activate, force=force, dry_run=dry_run
            )
        except services.DatasetError as error:
            raise CommandError(f"The data file was refused: {error}") from error
        except services.QualityGateRefused as error:
            self._write_report(error.report, verbosity)
            raise CommandError(str(error)) from error
        except services.ViewsiteError as error:
            raise CommandError(str(error)) from error
        self._write_report(report, verbosity)

    def _write_report(self, report: services.RetrainReport, verbosity: int) -> None:
        if verbosity < 1:
            return
        data = report.data
        write = self.stdout.write
        write(f"Data: {data.file_name} (sha256 {data.sha256[:12]}…)")
        write(f"  rows used: {data.rows}; blank 转发数 filled with 点赞数: {data.rows_filled}")
        coefficients = ", ".join(
            f"{features.BY_NAME[name].label} {value:.4f}"
            for name, value in report.parameters["coefficients"].items()
        )
        write(
            f"Model: {report.algorithm}: {coefficients}, "
            f"intercept {report.parameters['intercept']:.4f}"
        )
        write("")
        write(f"  {'':<34}{'R²':>10}{'MAE':>14}{'RMSE':>14}")
        self._metrics_row(f"candidate ({report.cv_folds}-fold CV)", report.cv)
        if report.active is not None and report.active_metrics is not None:
            self._metrics_row(f"active {report.active.label} (same data)", report.active_metrics)
        elif report.active is not None:
            write(self.style.WARNING(f"  active {report.active.label}: {report.active_problem}"))
        else:
            write("  no active model yet")
        write("")
        if report.gate_passed:
            write(self.style.SUCCESS("Quality gate: passed."))
        else:
            message = "Quality gate: failed: " + "; ".join(report.gate_reasons) + "."
            write(
                self.style.WARNING(message + (" Overridden by --force." if report.forced else ""))
            )
        if report.dry_run:
            write("Dry run: nothing was stored and the active model is unchanged.")
        elif report.version is not None:
            outcome = "stored and activated" if report.activated else "stored, not activated"
            write(
                self.style.SUCCESS(
                    f"Model {report.version.label} {outcome} "
                    f"(artifact {report.version.artifact_name}, "
                    f"sha256 {report.version.artifact_sha256[:12]}…)."
                )
            )

    def _metrics_row(self, label: str, metrics: services.Metrics) -> None:
        self.stdout.write(
            f"  {label:<34}{metrics.r2:>10.4f}{metrics.mae:>14,.1f}{metrics.rmse:>14,.1f}"
        )
