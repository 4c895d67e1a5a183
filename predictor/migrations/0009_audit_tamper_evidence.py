from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("predictor", "0008_translated_labels")]

    operations = []
