"""An activation's reason as a code and its parameters, said in the reader's language.

Until now `retrain` stored its reason as an English sentence, "retrained (linear) on
data.csv and 12 real outcomes", which the card and the admin showed to Chinese readers as it
was. From here it stores Activation.Reason.RETRAINED and what the sentence names. Existing rows
in that shape are converted; any other text is a person's words (or a shape this cannot read)
and stays as it is, as a stated reason.
"""

import re

from django.db import migrations, models

# The only sentence `retrain` ever wrote (predictor/services/training.py, since 0006).
RETRAINED = re.compile(
    r"retrained \((?P<algorithm>[\w.-]+)\) on (?P<data_file>.+?)"
    r"(?: and (?P<outcome_rows>\d+) real outcomes)?"
)


def read_retrained(text: str) -> dict | None:
    """The parameters of a sentence `retrain` wrote; None for any other text."""
    match = RETRAINED.fullmatch(text)
    if match is None:
        return None
    return {
        "algorithm": match["algorithm"],
        "data_file": match["data_file"],
        "outcome_rows": int(match["outcome_rows"] or 0),
    }


def codes_from_sentences(apps, schema_editor):
    Activation = apps.get_model("predictor", "Activation")
    # The historical model has a plain manager: Activation's append-only one is not used here,
    # and this is the one change its rows ever get (the table has no refusing trigger).
    for activation in Activation.objects.filter(door="retrain", reason__startswith="retrained ("):
        parameters = read_retrained(activation.reason)
        if parameters is not None:
            Activation.objects.filter(pk=activation.pk).update(
                reason_code="retrained", reason_parameters=parameters, reason=""
            )


def sentences_from_codes(apps, schema_editor):
    Activation = apps.get_model("predictor", "Activation")
    for activation in Activation.objects.filter(reason_code="retrained"):
        parameters = activation.reason_parameters
        sentence = f"retrained ({parameters['algorithm']}) on {parameters['data_file']}"
        if parameters.get("outcome_rows"):
            sentence += f" and {parameters['outcome_rows']} real outcomes"
        Activation.objects.filter(pk=activation.pk).update(reason=sentence)


class Migration(migrations.Migration):
    dependencies = [("predictor", "0019_remove_served_count")]

    operations = [
        migrations.AddField(
            model_name="activation",
            name="reason_code",
            field=models.CharField(
                choices=[
                    ("stated", "stated by whoever activated it"),
                    ("retrained", "retrained"),
                ],
                default="stated",
                max_length=16,
                verbose_name="reason code",
            ),
        ),
        migrations.AddField(
            model_name="activation",
            name="reason_parameters",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="What the reason's sentence names (the algorithm, the data file).",
                verbose_name="reason parameters",
            ),
        ),
        migrations.AlterField(
            model_name="activation",
            name="reason",
            field=models.CharField(
                blank=True,
                help_text="As whoever activated the version typed it.",
                max_length=500,
                verbose_name="reason",
            ),
        ),
        migrations.RunPython(codes_from_sentences, sentences_from_codes),
    ]
