"""Record the real view counts of articles that were predicted, from a CSV file.

Marketing learns an article's real 浏览量 days after it was predicted; this brings those figures in
bulk (the API and the admin take them one at a time). The file is checked whole first: a bad line
is reported with its number, and nothing is recorded until every line is good.
"""

from pathlib import Path

from django.core.management.base import CommandError
from django.db import DatabaseError
from django.utils.translation import gettext

from predictor import services
from predictor.display import count
from predictor.management.base import ViewsiteCommand
from predictor.models import Outcome
from predictor.services import csv_files


class Command(ViewsiteCommand):
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
                gettext(
                    "%(count)s bad line(s) in %(path)s; nothing was recorded. Fix them and "
                    "import the file again."
                )
                % {"count": count(len(error.problems)), "path": file}
            ) from error
        except DatabaseError as error:
            raise CommandError(
                gettext("The database could not be written (%(reason)s); nothing was recorded.")
                % {"reason": error}
            ) from error
        if verbosity >= 1:
            if dry_run:
                message = gettext(
                    "%(path)s: would record %(outcomes)s outcome(s) for %(predictions)s "
                    "prediction(s)."
                )
            else:
                message = gettext(
                    "%(path)s: recorded %(outcomes)s outcome(s) for %(predictions)s prediction(s)."
                )
            figures = {
                "path": file,
                "outcomes": count(len(prediction_ids)),
                "predictions": count(len(set(prediction_ids))),
            }
            self.stdout.write(self.style.SUCCESS(message % figures))
