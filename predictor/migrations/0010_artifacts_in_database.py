from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("predictor", "0009_audit_tamper_evidence")]

    operations = []
