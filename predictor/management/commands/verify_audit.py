"""Check the audit trail against its seals: exit 0 when it is as sealed, non-zero naming what
was changed, removed or inserted (and which seal says so) when it is not."""

from django.core.management.base import CommandError
from django.utils.translation import gettext

from predictor.display import count
from predictor.management.base import ViewsiteCommand, pad
from predictor.services import sealing


class Command(ViewsiteCommand):
    help = (
        "Recompute the chain of audit seals and compare every sealed prediction request and "
        "outcome with its seal. Exits non-zero on the first sign of tampering."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--show",
            type=int,
            default=20,
            metavar="N",
            help="How many problems to list (all are counted; default %(default)s).",
        )

    def handle(self, *args, show, verbosity, **options):
        result = sealing.verify()
        if not result.intact:
            for problem in result.problems[:show]:
                self.stderr.write(str(problem))
            if result.problem_count > show:
                self.stderr.write(
                    gettext("… and %(count)s more.") % {"count": count(result.problem_count - show)}
                )
            raise CommandError(
                gettext(
                    "The audit trail does not match its seals: %(count)s problem(s); the first: "
                    "%(first)s."
                )
                % {"count": count(result.problem_count), "first": result.problems[0]}
            )
        if verbosity < 1:
            return
        for name, checked in result.rows_checked.items():
            self.stdout.write(
                gettext(
                    "%(checked)s %(table)s rows as sealed; %(unsealed)s written since the last seal"
                )
                % {
                    "checked": pad(count(checked), 12),
                    "table": name,
                    "unsealed": count(result.rows_unsealed[name]),
                }
            )
        if result.seals:
            message = gettext(
                "Audit trail intact: %(seals)s seal(s); the chain ends at seal #%(last)s, digest "
                "%(digest)s."
            )
        else:
            message = gettext(
                "Audit trail intact: %(seals)s seal(s); nothing has been sealed yet (manage.py "
                "seal_audit)."
            )
        figures = {"seals": count(result.seals), "last": result.seals, "digest": result.last_digest}
        self.stdout.write(self.style.SUCCESS(message % figures))
