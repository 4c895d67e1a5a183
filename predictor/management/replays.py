"""A replay's figures as `replay`, `activate` and `retrain` print them: the same lines in each,
in the command's language, numbers through display.py."""

from django.utils.translation import gettext

from predictor.display import count, percent, when
from predictor.management.base import table
from predictor.services import ReplayReport, Verdict


def replay_lines(report: ReplayReport, *, candidate_label: str) -> list[tuple[str, str]]:
    """(style, line) pairs: style is "" for plain, "success" or "warning" for the verdict."""
    figures = {
        "candidate": candidate_label,
        "incumbent": report.incumbent.label,
        "requests": count(report.requests),
    }
    if report.since is not None:
        heading = gettext(
            "Replay of %(candidate)s on the %(requests)s answers %(incumbent)s served since "
            "%(since)s:"
        ) % {**figures, "since": when(report.since)}
    else:
        heading = (
            gettext("Replay of %(candidate)s on the %(requests)s answers %(incumbent)s served:")
            % figures
        )
    lines = [("", heading)]
    if not report.requests:
        lines.append(
            (
                "warning",
                gettext("  %(incumbent)s served no answer here, so there is nothing to compare.")
                % figures,
            )
        )
        return lines
    largest = percent(report.largest_change)
    if report.largest_change > 0:
        largest = f"+{largest}"
    median = percent(report.median_change)
    if report.median_beyond_range:
        median = gettext("more than %(share)s") % {"share": percent(report.median_change, 0)}
    rows = [
        (gettext("typical change of an answer (median)"), median),
        (
            gettext("largest change"),
            gettext("%(change)s (request #%(id)s)")
            % {"change": largest, "id": report.largest_change_id},
        ),
        (
            gettext("changed by more than %(threshold)s")
            % {"threshold": percent(report.moved_threshold, 0)},
            gettext("%(share)s (%(part)s of %(whole)s)")
            % {
                "share": percent(report.share_moved),
                "part": count(report.moved),
                "whole": count(report.requests),
            },
        ),
        (
            gettext("higher / lower than served"),
            f"{percent(report.share_higher)} / {percent(report.share_lower)}",
        ),
        (
            gettext("outside the interval %(incumbent)s served") % figures,
            gettext("%(share)s (%(part)s of %(whole)s)")
            % {
                "share": percent(report.share_outside),
                "part": count(report.outside),
                "whole": count(report.with_interval),
            }
            if report.with_interval
            else "—",
        ),
    ]
    lines += [("", "  " + line) for line in table(rows)]
    if not report.outcomes:
        lines.append(
            (
                "warning",
                gettext(
                    "No real views have been recorded for these answers, so there is no error "
                    "to compare and no verdict."
                ),
            )
        )
        return lines
    lines.append(
        (
            "",
            gettext(
                "Real views recorded for %(outcomes)s of them: mean absolute error "
                "%(candidate_mae)s views for %(candidate)s, %(incumbent_mae)s for %(incumbent)s."
            )
            % {
                **figures,
                "outcomes": count(report.outcomes),
                "candidate_mae": count(report.candidate_mae),
                "incumbent_mae": count(report.incumbent_mae),
            },
        )
    )
    if report.ci_low is not None:
        lines.append(
            (
                "",
                gettext(
                    "  paired difference in absolute error (%(candidate)s − %(incumbent)s): "
                    "%(mean)s views, 95%% confidence interval %(low)s to %(high)s"
                )
                % {
                    **figures,
                    "mean": count(report.mean_difference),
                    "low": count(report.ci_low),
                    "high": count(report.ci_high),
                },
            )
        )
    verdict = report.verdict
    outcomes = {"outcomes": count(report.outcomes), **figures}
    if verdict == Verdict.BETTER:
        lines.append(
            (
                "success",
                gettext("Verdict: %(candidate)s is better than %(incumbent)s on real views.")
                % figures,
            )
        )
    elif verdict == Verdict.WORSE:
        lines.append(
            (
                "warning",
                gettext("Verdict: %(candidate)s is worse than %(incumbent)s on real views.")
                % figures,
            )
        )
    elif verdict == Verdict.NOT_DISTINGUISHABLE:
        lines.append(
            (
                "",
                gettext(
                    "Verdict: %(candidate)s and %(incumbent)s are not distinguishable on "
                    "%(outcomes)s outcomes."
                )
                % outcomes,
            )
        )
    else:
        lines.append(
            (
                "warning",
                gettext(
                    "No verdict: %(outcomes)s outcomes are too few; a verdict needs at least "
                    "%(needed)s."
                )
                % {**outcomes, "needed": count(report.min_outcomes)},
            )
        )
    return lines


def write_replay(command, report: ReplayReport, *, candidate_label: str) -> None:
    """The replay's lines on the command's standard output."""
    styles = {"success": command.style.SUCCESS, "warning": command.style.WARNING}
    for style, line in replay_lines(report, candidate_label=candidate_label):
        command.stdout.write(styles[style](line) if style else line)
