from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("predictor", "0010_artifacts_in_database")]

    operations = []
