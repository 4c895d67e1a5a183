"""Seal the audit rows written since the last seal: a link in the chain that verify_audit checks.

Run on a timer (deploy/systemd/viewsite-seal-audit.timer). The digest it prints also lands in the
journal, a record outside the database of where the chain ended, which nobody who can only write
the database can change. Each seal also moves the served counts' checkpoint to the id it sealed
through (predictor/services/served.py), which keeps the model card and the version lists cheap.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.translation import gettext

from predictor.display import count, seconds
from predictor.management.base import ViewsiteCommand, pad
from predictor.services import sealing


class Command(ViewsiteCommand):
    help = (
        "Hash the prediction requests and outcomes written since the last seal into a new seal "
        "chained to it. Rows younger than --lag are left to the next run."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--lag",
            type=float,
            default=sealing.DEFAULT_LAG.total_seconds(),
            metavar="SECONDS",
            help="Leave rows younger than this to the next seal, so that a transaction still "
            "open is not sealed around (default %(default)g).",
        )
        parser.add_argument(
            "--row-encoding",
            choices=sealing.RowEncoding.values,
            help="How each row becomes bytes to hash: postgresql (PostgreSQL's binary row format, "
            "hashed by the database; the default there) or json (hashed in Python; the default "
            "on SQLite, and verifiable on either database).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Compute the seal and report it; store nothing."
        )

    def handle(self, *args, lag, row_encoding, dry_run, verbosity, **options):
        if lag < 0:
            raise CommandError(gettext("--lag must be zero or more seconds."))
        encoding = row_encoding or sealing.default_encoding()
        if not sealing.can_hash(encoding):
            raise CommandError(
                gettext("--row-encoding %(encoding)s needs a %(encoding)s database.")
                % {"encoding": encoding}
            )
        try:
            seal = sealing.seal(lag=timedelta(seconds=lag), dry_run=dry_run, encoding=encoding)
        except sealing.SealChainBroken as error:
            raise CommandError(str(error)) from error
        except sealing.SealConflict as error:
            raise CommandError(
                gettext("%(reason)s This run stored nothing; run it again.") % {"reason": error}
            ) from error
        if verbosity < 1:
            return
        if not settings.VIEWSITE_AUDIT_SEAL_KEY:
            # A warning for the operator, not part of the answer a script reads.
            self.stderr.write(
                self.style.WARNING(
                    gettext(
                        "VIEWSITE_AUDIT_SEAL_KEY is not set: the seals are plain SHA-256, which "
                        "whoever can write the database can recompute."
                    )
                )
            )
        if seal is None:
            self.stdout.write(
                gettext("Nothing to seal: no row written since the last seal is %(lag)s old.")
                % {"lag": seconds(lag)}
            )
            return
        for table in sealing.SEALED_TABLES:
            rows = table.count_of(seal)
            after, through = table.range_of(seal)
            figures = {"rows": pad(count(rows), 12), "table": table.name}
            if rows:
                line = gettext("%(rows)s %(table)s (ids %(first)s–%(last)s)") % {
                    **figures,
                    "first": after + 1,
                    "last": through,
                }
            else:
                line = gettext("%(rows)s %(table)s") % figures
            self.stdout.write(line)
        if dry_run:
            message = gettext(
                "Seal #%(number)s would be stored (%(encoding)s rows), digest %(digest)s."
            )
        else:
            message = gettext("Seal #%(number)s stored (%(encoding)s rows), digest %(digest)s.")
        figures = {"number": seal.number, "encoding": seal.row_encoding, "digest": seal.digest}
        self.stdout.write(self.style.SUCCESS(message % figures))
