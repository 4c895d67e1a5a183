"""Sign stored model versions with this host's signing key.

Two moments need it. After upgrading to signed artifacts, migration 0010 has imported the older
versions' files into the database unsigned, and no host serves an unsigned version; run this,
where VIEWSITE_ARTIFACT_SIGNING_KEY is set, right after `migrate`. It trusts each version's row
as it is then, so run it before anyone else could have written the database. And after a new
signing key, it re-signs every version an older, still-trusted key signed, so the old public key
can be dropped. A version whose signature fails is never re-signed: retrain instead.
"""

from django.core.management.base import CommandError
from django.utils.translation import gettext

from predictor import services
from predictor.management.base import ViewsiteCommand
from predictor.services import registry


class Command(ViewsiteCommand):
    help = (
        "Sign model versions stored unsigned (before signatures existed) or signed by an older "
        "trusted key, with VIEWSITE_ARTIFACT_SIGNING_KEY."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be signed; change nothing."
        )

    def handle(self, *args, dry_run, verbosity, **options):
        try:
            signed, refused = registry.sign_versions(dry_run=dry_run)
        except services.ViewsiteError as error:
            raise CommandError(str(error)) from error
        if verbosity >= 1:
            if not signed:
                self.stdout.write(gettext("Every servable version is already signed by this key."))
            else:
                message = (
                    gettext("Would sign: %(versions)s.")
                    if dry_run
                    else gettext("Signed: %(versions)s.")
                )
                self.stdout.write(self.style.SUCCESS(message % {"versions": ", ".join(signed)}))
        if refused:
            raise CommandError(gettext("Not signed:") + "\n" + "\n".join(refused))
