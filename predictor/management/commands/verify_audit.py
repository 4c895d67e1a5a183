"""Check the audit trail against its seals: exit 0 when it is as sealed, non-zero naming what
was changed, removed or inserted (and which seal says so) when it is not."""

from django.core.management.base import BaseCommand, CommandError

from predictor.services import sealing


class Command(BaseCommand):
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
                self.stderr.write(f"... and {result.problem_count - show:,} more.")
            raise CommandError(
                f"The audit trail does not match its seals: {result.problem_count:,} "
                f"problem(s); the first: {result.problems[0]}."
            )
        if verbosity < 1:
            return
        for name, checked in result.rows_checked.items():
            self.stdout.write(
                f"{checked:>12,} {name} rows as sealed; "
                f"{result.rows_unsealed[name]:,} written since the last seal"
            )
        if result.seals:
            ending = f"; the chain ends at seal #{result.seals}, digest {result.last_digest}"
        else:
            ending = "; nothing has been sealed yet (manage.py seal_audit)"
        self.stdout.write(
            self.style.SUCCESS(f"Audit trail intact: {result.seals:,} seal(s){ending}.")
        )
