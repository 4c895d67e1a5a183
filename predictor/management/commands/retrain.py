"""Train a new model version from a CSV file, judge it, and swap it in while the site keeps serving.

Workers read the active version from the database on every request, so activation here is all it
takes: no restart. A bad file or a candidate that fails the quality gate leaves everything as it
was and exits non-zero with a message saying what to do. `--compare` scores every algorithm on the
same folds and stores nothing; `--include-outcomes` adds the real outcomes recorded so far.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from predictor import features, services
from predictor.services.algorithms import ALGORITHMS, DEFAULT_ALGORITHM


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
            "--algorithm",
            default=DEFAULT_ALGORITHM,
            choices=list(ALGORITHMS),
            help=f"What to train (default {DEFAULT_ALGORITHM}, the course's LinearRegression).",
        )
        parser.add_argument(
            "--compare",
            action="store_true",
            help="Score every algorithm on the same cross-validation folds; store nothing.",
        )
        parser.add_argument(
            "--include-outcomes",
            action="store_true",
            help="Also train on answered predictions whose real views were recorded.",
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

    def _retrain(
        self,
        *,
        data,
        algorithm,
        compare,
        include_outcomes,
        force,
        no_activate,
        dry_run,
        if_no_model,
        verbosity,
        **options,
    ):
        if if_no_model and services.active_version() is not None:
            if verbosity >= 1:
                active = services.active_version()
                self.stdout.write(f"Model {active.label} is active; nothing to train.")
            return
        data_path = data or settings.VIEWSITE_DEFAULT_DATA
        try:
            if compare:
                comparison = services.compare(
                    data_path=data_path, include_outcomes=include_outcomes
                )
                self._write_comparison(comparison, verbosity)
                return
            report = services.retrain(
                data_path=data_path,
                algorithm=algorithm,
                include_outcomes=include_outcomes,
                activate=not no_activate,
                force=force,
                dry_run=dry_run,
            )
        except services.DatasetError as error:
            raise CommandError(f"The data file was refused: {error}") from error
        except services.QualityGateRefused as error:
            self._write_report(error.report, verbosity)
            raise CommandError(str(error)) from error
        except services.ViewsiteError as error:
            raise CommandError(str(error)) from error
        self._write_report(report, verbosity)

    def _write_data(self, data: services.TrainingData) -> None:
        write = self.stdout.write
        write(f"Data: {data.file_name} (sha256 {data.sha256[:12]}…)")
        write(
            f"  rows from the file: {data.file_rows}; blank 转发数 filled with 点赞数: "
            f"{data.rows_filled}"
        )
        if data.outcome_rows:
            write(
                f"  rows from recorded outcomes: {data.outcome_rows} (answered predictions with "
                f"their real views, outcomes up to #{data.last_outcome_id})"
            )
        write(f"  rows used: {data.rows}")

    def _write_comparison(self, comparison: services.Comparison, verbosity: int) -> None:
        if verbosity < 1:
            return
        self._write_data(comparison.data)
        evaluations = comparison.evaluations
        first = evaluations[0]
        coverage = f"{first.interval.coverage:.0%} coverage"
        write = self.stdout.write
        write("")
        write(
            f"Every algorithm on the same {first.folds} cross-validation folds "
            f"(interval: {coverage} stated, measured on held-out folds):"
        )
        write(
            f"  {'algorithm':<12}{'R²':>9}{'MAE':>12}{'RMSE':>12}{'coverage':>10}"
            f"{'width':>12}{'fit (ms)':>10}"
        )
        best = comparison.best
        for evaluation in evaluations:
            line = (
                f"{'*' if evaluation is best else ' '} {evaluation.algorithm.name:<12}"
                f"{evaluation.cv.r2:>9.4f}{evaluation.cv.mae:>12,.1f}{evaluation.cv.rmse:>12,.1f}"
                f"{evaluation.interval.held_out_coverage:>10.1%}"
                f"{evaluation.interval.mean_width:>12,.0f}{evaluation.fit_seconds * 1000:>10.1f}"
            )
            write(self.style.SUCCESS(line) if evaluation is best else line)
        write("")
        write(
            self.style.SUCCESS(
                f"Best: {best.algorithm.name} ({best.algorithm.summary}), cross-validated R² "
                f"{best.cv.r2:.4f}. Train it with `retrain --algorithm {best.algorithm.name}`."
            )
        )
        write("Compared only: nothing was stored and the active model is unchanged.")

    def _write_report(self, report: services.RetrainReport, verbosity: int) -> None:
        if verbosity < 1:
            return
        write = self.stdout.write
        self._write_data(report.data)
        parameters = report.parameters
        if "coefficients" in parameters:
            coefficients = ", ".join(
                f"{features.BY_NAME[name].label} {value:.4f}"
                for name, value in parameters["coefficients"].items()
            )
            scale = " (on log(1+x))" if parameters.get("scale") == "log1p" else ""
            write(
                f"Model: {report.algorithm_name}, {report.algorithm}: {coefficients}, "
                f"intercept {parameters['intercept']:.4f}{scale}"
            )
        else:
            write(f"Model: {report.algorithm_name}, {report.algorithm}")
        write("")
        write(f"  {'':<34}{'R²':>10}{'MAE':>14}{'RMSE':>14}")
        self._metrics_row(f"candidate ({report.cv_folds}-fold CV)", report.cv)
        if report.active is not None and report.active_metrics is not None:
            self._metrics_row(f"active {report.active.label} (same data)", report.active_metrics)
        elif report.active is not None:
            write(self.style.WARNING(f"  active {report.active.label}: {report.active_problem}"))
        else:
            write("  no active model yet")
        if report.interval is not None:
            interval = report.interval
            write(
                f"  interval: ± {interval.relative_half_width:.1%} of the prediction for "
                f"{interval.coverage:.0%} coverage (mean width {interval.mean_width:,.0f}); "
                f"held-out folds: {interval.held_out_coverage:.1%}"
            )
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
