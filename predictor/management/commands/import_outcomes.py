"""Record the real view counts of articles that were predicted, from a CSV file.

Marketing learns an article's real 浏览量 days after it was predicted; this brings those figures in
bulk (the API and the admin take them one at a time). The file is checked whole first: a bad line
is reported with its number, and nothing is recorded until every line is good.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from predictor import services
from predictor.models import Outcome
from predictor.services import csv_files


class Command(BaseCommand):
    help = (
        "Record real outcomes from a CSV of prediction ids and real views "
        f"(header: {csv_files.header_text(csv_files.OUTCOME_COLUMNS)})."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The CSV file.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check every line; record nothing."
        )

    def handle(self, *args, file, dry_run, verbosity, **options):
        try:
            items = services.read_outcomes_file(file)
            if dry_run:
                checked, problems = services.check_outcomes(items)
                if problems:
                    raise services.OutcomesRefused(problems)
                prediction_ids = [prediction_id for prediction_id, _ in checked]
            else:
                recorded = services.record_outcomes(
                    items, source=Outcome.Source.IMPORT, note=f"import_outcomes {file.name}"
                )
                prediction_ids = [outcome.prediction_id for outcome in recorded]
        except services.OutcomesRefused as error:
            for problem in error.problems:
                self.stderr.write(f"{file}: {problem}")
            raise CommandError(
                f"{len(error.problems)} bad line(s) in {file}; nothing was recorded. "
                "Fix them and import the file again."
            ) from error
        except DatabaseError as error:
            raise CommandError(
                f"The database could not be written ({error}); nothing was recorded."
            ) from error
        if verbosity >= 1:
            verb = "would record" if dry_run else "recorded"
            self.stdout.write(
                self.style.SUCCESS(
                    f"{file}: {verb} {len(prediction_ids)} outcome(s) for "
                    f"{len(set(prediction_ids))} prediction(s)."
                )
            )
