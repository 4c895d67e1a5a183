"""Re-create the sample dataset in data/ from its fixed seed (see predictor.sample_data)."""

from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext

from predictor.display import count
from predictor.management.base import ViewsiteCommand
from predictor.sample_data import SAMPLE_ROWS, SAMPLE_SEED, generate_sample


class Command(ViewsiteCommand):
    help = (
        "Write the synthetic sample dataset (course file's columns) used by default for training."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", type=Path, default=settings.VIEWSITE_DEFAULT_DATA)
        parser.add_argument("--rows", type=int, default=SAMPLE_ROWS)
        parser.add_argument("--seed", type=int, default=SAMPLE_SEED)

    def handle(self, *args, output, rows, seed, verbosity, **options):
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(generate_sample(rows=rows, seed=seed), encoding="utf-8")
        if verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    gettext("Wrote %(rows)s rows to %(path)s (seed %(seed)s).")
                    % {"rows": count(rows), "path": output, "seed": seed}
                )
            )
