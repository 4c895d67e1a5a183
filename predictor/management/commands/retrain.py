"""Train a new model version from a CSV file, judge it, and swap it in while the site keeps serving.

Workers read the active version from the database on every request, so activation here is all it
takes: no restart. A bad file or a candidate that fails the quality gate leaves everything as it
was and exits non-zero with a message saying what to do. `--compare` scores every algorithm on the
same folds and stores nothing; `--include-outcomes` adds the real outcomes recorded so far.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.db import DatabaseError
from django.utils.translation import gettext

from predictor import features, services
from predictor.display import coefficient, count, decimal, milliseconds, percent
from predictor.management.base import ViewsiteCommand, table
from predictor.management.replays import write_replay
from predictor.services.algorithms import ALGORITHMS, DEFAULT_ALGORITHM
from predictor.services.replay import MIN_OUTCOMES
from predictor.services.training import BEST_RULE, GATE_CV, GATE_REPLAY, GATES, R2_PLACES


class Command(ViewsiteCommand):
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
            "--gate",
            default=GATE_CV,
            choices=GATES,
            help="The quality gate: cv compares cross-validated R² with the active model's; "
            "replay judges the candidate on the active model's answers whose real views were "
            "recorded, and refuses it only if it is worse (the cv gate applies while fewer than "
            f"{MIN_OUTCOMES} have them).",
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
                gettext(
                    "The database could not be read or written (%(reason)s). Nothing was stored "
                    "and the active model is unchanged."
                )
                % {"reason": error}
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
        gate,
        verbosity,
        **options,
    ):
        if if_no_model and services.active_version() is not None:
            if verbosity >= 1:
                active = services.active_version()
                self.stdout.write(
                    gettext("Model %(version)s is active; nothing to train.")
                    % {"version": active.label}
                )
            return
        data_path = data or settings.VIEWSITE_DEFAULT_DATA
        try:
            if compare:
                comparison = services.compare(
                    data_path=data_path,
                    include_outcomes=include_outcomes,
                    on_start=lambda algorithm, position, total: self.progress_line(
                        gettext("Scoring %(algorithm)s (%(position)s of %(total)s)…")
                        % {"algorithm": algorithm.name, "position": position, "total": total},
                        verbosity=verbosity,
                    ),
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
                gate=gate,
            )
        except services.DatasetError as error:
            raise CommandError(
                gettext("The data file was refused: %(reason)s") % {"reason": error}
            ) from error
        except services.QualityGateRefused as error:
            self._write_report(error.report, verbosity)
            raise CommandError(str(error)) from error
        except services.ViewsiteError as error:
            raise CommandError(str(error)) from error
        self._write_report(report, verbosity)

    def _write_data(self, data: services.TrainingData) -> None:
        write = self.stdout.write
        write(
            gettext("Data: %(file)s (sha256 %(sha)s…)")
            % {"file": data.file_name, "sha": data.sha256[:12]}
        )
        write(
            gettext("  rows from the file: %(rows)s; blank 转发数 filled with 点赞数: %(filled)s")
            % {"rows": count(data.file_rows), "filled": count(data.rows_filled)}
        )
        if data.outcome_rows:
            write(
                gettext(
                    "  rows from recorded outcomes: %(rows)s (answered predictions with their "
                    "real views, outcomes up to #%(last)s)"
                )
                % {"rows": count(data.outcome_rows), "last": data.last_outcome_id}
            )
        write(gettext("  rows used: %(rows)s") % {"rows": count(data.rows)})

    def _write_comparison(self, comparison: services.Comparison, verbosity: int) -> None:
        if verbosity < 1:
            return
        self._write_data(comparison.data)
        evaluations = comparison.evaluations
        first = evaluations[0]
        write = self.stdout.write
        write("")
        write(
            gettext(
                "Every algorithm on the same %(folds)s cross-validation folds (interval: "
                "%(coverage)s coverage stated, measured on held-out folds):"
            )
            % {"folds": first.folds, "coverage": percent(first.interval.coverage, 0)}
        )
        headings = (
            "",
            gettext("algorithm"),
            "R²",
            "MAE",
            "RMSE",
            gettext("coverage"),
            gettext("width"),
            gettext("fit time"),
        )
        best = comparison.best
        rows = [
            (
                "*" if evaluation is best else "",
                evaluation.algorithm.name,
                decimal(evaluation.cv.r2, R2_PLACES),
                count(evaluation.cv.mae),
                count(evaluation.cv.rmse),
                percent(evaluation.interval.held_out_coverage),
                count(evaluation.interval.mean_width),
                milliseconds(evaluation.fit_seconds * 1000),
            )
            for evaluation in evaluations
        ]
        heading, *lines = table([headings, *rows], left=2)
        write(heading)
        for evaluation, line in zip(evaluations, lines, strict=True):
            write(self.style.SUCCESS(line) if evaluation is best else line)
        write("")
        write(str(BEST_RULE))
        write(self.style.SUCCESS(_best_sentence(comparison)))
        write(
            gettext("Train it with `retrain --algorithm %(name)s`.")
            % {"name": comparison.best.algorithm.name}
        )
        write(gettext("Compared only: nothing was stored and the active model is unchanged."))

    def _write_report(self, report: services.RetrainReport, verbosity: int) -> None:
        if verbosity < 1:
            return
        write = self.stdout.write
        self._write_data(report.data)
        parameters = report.parameters
        if "coefficients" in parameters:
            # Written as the model card writes its equation.
            log_scale = parameters.get("scale") == "log1p"
            coefficients = gettext(", ").join(
                f"{features.BY_NAME[name].label} {coefficient(value, log_scale)}"
                for name, value in parameters["coefficients"].items()
            )
            figures = {
                "name": report.algorithm_name,
                "algorithm": report.algorithm,
                "coefficients": coefficients,
                "intercept": coefficient(parameters["intercept"], log_scale),
            }
            if log_scale:
                line = gettext(
                    "Model: %(name)s, %(algorithm)s: %(coefficients)s, intercept %(intercept)s "
                    "(on log(1+x))"
                )
            else:
                line = gettext(
                    "Model: %(name)s, %(algorithm)s: %(coefficients)s, intercept %(intercept)s"
                )
            write(line % figures)
        else:
            write(
                gettext("Model: %(name)s, %(algorithm)s")
                % {"name": report.algorithm_name, "algorithm": report.algorithm}
            )
        write("")
        rows = [("", "R²", "MAE", "RMSE")]
        rows.append(
            _metrics(
                gettext("candidate (%(folds)s-fold CV)") % {"folds": report.cv_folds}, report.cv
            )
        )
        if report.active is not None and report.active_metrics is not None:
            label = gettext("active %(version)s (same data)") % {"version": report.active.label}
            rows.append(_metrics(label, report.active_metrics))
        for line in table(rows):
            write("  " + line)
        if report.active is not None and report.active_metrics is None:
            write(
                self.style.WARNING(
                    gettext("  active %(version)s: %(problem)s")
                    % {"version": report.active.label, "problem": report.active_problem}
                )
            )
        elif report.active is None:
            write(gettext("  no active model yet"))
        if report.interval is not None:
            interval = report.interval
            write(
                gettext(
                    "  interval: ± %(half)s of the prediction for %(coverage)s coverage (mean "
                    "width %(width)s); held-out folds: %(held_out)s"
                )
                % {
                    "half": percent(interval.relative_half_width),
                    "coverage": percent(interval.coverage, 0),
                    "width": count(interval.mean_width),
                    "held_out": percent(interval.held_out_coverage),
                }
            )
        write("")
        if report.gate == GATE_REPLAY:
            self._write_replay_gate(report)
        if report.gate_passed:
            write(self.style.SUCCESS(gettext("Quality gate: passed.")))
        else:
            reasons = gettext("; ").join(report.gate_reasons)
            if report.forced:
                message = gettext("Quality gate: failed: %(reasons)s. Overridden by --force.")
            else:
                message = gettext("Quality gate: failed: %(reasons)s.")
            write(self.style.WARNING(message % {"reasons": reasons}))
        if report.dry_run:
            write(gettext("Dry run: nothing was stored and the active model is unchanged."))
        elif report.version is not None:
            if report.activated:
                message = gettext(
                    "Model %(version)s stored and activated (artifact %(artifact)s, sha256 "
                    "%(sha)s…)."
                )
            else:
                message = gettext(
                    "Model %(version)s stored, not activated (artifact %(artifact)s, sha256 "
                    "%(sha)s…)."
                )
            write(
                self.style.SUCCESS(
                    message
                    % {
                        "version": report.version.label,
                        "artifact": report.version.artifact_name,
                        "sha": report.version.artifact_sha256[:12],
                    }
                )
            )

    def _write_replay_gate(self, report: services.RetrainReport) -> None:
        """Under --gate replay: the replay that judged the candidate, or why it could not."""
        if report.replay is None:
            self.stdout.write(
                self.style.WARNING(
                    gettext("Replay gate not used: %(reason)s.") % {"reason": report.replay_note}
                )
            )
            return
        label = report.version.label if report.version else gettext("the candidate")
        write_replay(self, report.replay, candidate_label=label)
        self.stdout.write(
            gettext(
                "The replay's verdict is the quality gate: a candidate called worse is refused "
                "(the minimum R² still applies)."
            )
        )
        self.stdout.write("")


def _metrics(label: str, metrics: services.Metrics) -> tuple[str, ...]:
    return (label, decimal(metrics.r2, 4), count(metrics.mae), count(metrics.rmse))


def _best_sentence(comparison: services.Comparison) -> str:
    """Which algorithm won and, when the R²s read the same, which tie-break decided it."""
    best, other = comparison.best, comparison.runner_up
    figures = {
        "name": best.algorithm.name,
        "summary": best.algorithm.summary,
        "r2": decimal(best.cv.r2, R2_PLACES),
    }
    decided_by = comparison.decided_by
    if decided_by == "mae":
        sentence = gettext(
            "Best: %(name)s (%(summary)s), cross-validated R² %(r2)s, as high as %(other)s's; "
            "its MAE %(mae)s is lower than %(other_mae)s."
        )
        figures |= {
            "other": other.algorithm.name,
            "mae": count(best.cv.mae),
            "other_mae": count(other.cv.mae),
        }
    elif decided_by == "rmse":
        sentence = gettext(
            "Best: %(name)s (%(summary)s), cross-validated R² %(r2)s and MAE as %(other)s's; "
            "its RMSE %(rmse)s is lower than %(other_rmse)s."
        )
        figures |= {
            "other": other.algorithm.name,
            "rmse": count(best.cv.rmse),
            "other_rmse": count(other.cv.rmse),
        }
    else:
        sentence = gettext("Best: %(name)s (%(summary)s), cross-validated R² %(r2)s.")
    return sentence % figures
