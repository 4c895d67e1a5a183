"""ServedCount goes: the served counts are summed from the audit trail (0018).

A migration of its own, so that an update can stop after 0018 while workers on the old code,
which still add to ServedCount, are reloaded (deploy/README.md, Updating).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("predictor", "0018_served_checkpoints")]

    operations = [migrations.DeleteModel(name="ServedCount")]
