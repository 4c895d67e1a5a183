"""Replay a stored version on what the active one served: how its answers would have differed,
and, where real views were recorded, whether it would have missed them by less.

A shadow deployment without a second deployment: the model has no side effects, so scoring it on
the recorded inputs is what running it beside the active one would have given. Each run is kept
for the version's model card.
"""

from django.core.management.base import CommandError

from predictor import services
from predictor.management.base import ViewsiteCommand, stored_version
from predictor.management.replays import write_replay


class Command(ViewsiteCommand):
    help = (
        "Replay a stored version that is not active on the answers the active version served, "
        "e.g. `replay v4 --since 2026-12-01`; the run is kept for its model card."
    )

    def add_arguments(self, parser):
        parser.add_argument("version", help="The candidate's label (v4) or number (4).")
        parser.add_argument(
            "--since",
            default=None,
            help="Only the answers served from this date (2026-12-01, or 2026-12-01 08:00, in "
            "the site's time zone).",
        )

    def handle(self, *args, version, since, verbosity, **options):
        candidate = stored_version(version)
        try:
            moment = services.read_since(since) if since is not None else None
            report = services.replay(candidate, since=moment)
        except services.ViewsiteError as error:
            raise CommandError(str(error)) from error
        services.store_replay(report)
        if verbosity >= 1:
            write_replay(self, report, candidate_label=candidate.label)
