"""Make the Ed25519 key pair that signs model versions, for an operator setting up or rotating.

The private key goes only into the environment of the host that runs `retrain`; the public key
goes on every app host, which then serves only versions that key signed (deploy/README.md).
Nothing is stored: the two lines are printed, ready for an env file.
"""

from django.utils.translation import gettext

from predictor.management.base import ViewsiteCommand
from predictor.services import signing


class Command(ViewsiteCommand):
    help = (
        "Print a new signing key pair as two env lines: VIEWSITE_ARTIFACT_SIGNING_KEY for the "
        "host that runs retrain only, VIEWSITE_ARTIFACT_VERIFY_KEYS for every app host."
    )

    def handle(self, *args, verbosity, **options):
        private, public = signing.generate_key_pair()
        self.stdout.write(f"VIEWSITE_ARTIFACT_SIGNING_KEY={private}")
        self.stdout.write(f"VIEWSITE_ARTIFACT_VERIFY_KEYS={public}")
        if verbosity >= 1:
            self.stderr.write(
                gettext(
                    "The first line is a secret: put it only in the environment of the host that "
                    "runs retrain. Put the second on every app host; to rotate keys, add it to "
                    "the keys already listed (comma-separated), run `manage.py sign_models` with "
                    "the new signing key, then drop the old public key. Key fingerprint: "
                    "%(fingerprint)s"
                )
                % {"fingerprint": signing.fingerprint(signing.public_key_from_text(public))}
            )
