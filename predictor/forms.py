"""The browser form: the audit model's likes and shares, with the bounds from predictor.features."""

from django import forms
from django.forms.renderers import Jinja2

from . import features
from .models import PredictionRequest


def _bounded_formfield(model_field, **kwargs):
    feature = features.BY_NAME[model_field.name]
    return model_field.formfield(
        min_value=feature.min_value, max_value=feature.max_value, help_text="", **kwargs
    )


class PredictionForm(forms.ModelForm):
    # Its inputs are drawn with Jinja2, like the page around them (viewsite.jinja2). One
    # renderer for the process: a new one per form would compile the widget templates anew.
    default_renderer = Jinja2()

    class Meta:
        model = PredictionRequest
        fields = features.INPUT_NAMES
        formfield_callback = _bounded_formfield

    def clean(self):
        # A browser sends only these fields; anything else (views, id, model_version...) is a
        # client trying to set what only the server decides.
        unknown = sorted(set(self.data) - set(self.fields) - {"csrfmiddlewaretoken"})
        if unknown:
            names = ", ".join(name[:40] for name in unknown[:5])
            raise forms.ValidationError(
                "Unknown field(s): %(fields)s. Only 点赞数 (likes) and 转发数 (shares) are "
                "accepted.",
                code="unknown_field",
                params={"fields": names + (", …" if len(unknown) > 5 else "")},
            )
        return super().clean()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in features.INPUT_NAMES:
            # The fields are nullable in the table (refused requests have no values), never here.
            self.fields[name].required = True
            self.fields[name].widget.attrs.update({"inputmode": "numeric", "step": 1})
