"""The browser form: the audit model's likes and shares, with the bounds from predictor.features."""

from django import forms

from . import features
from .models import PredictionRequest


class CountField(forms.IntegerField):
    """A whole number as people type it: "1,200", "1，200", "５００" and " 500 " are 1200, 1200,
    500 and 500 (features.normalize_count). A text input with a numeric keyboard, because a
    number input refuses thousands separators before the server sees them."""

    widget = forms.TextInput

    def to_python(self, value):
        if isinstance(value, str):
            value = features.normalize_count(value)
        return super().to_python(value)


def _bounded_formfield(model_field, **kwargs):
    feature = features.BY_NAME[model_field.name]
    return model_field.formfield(
        form_class=CountField,
        min_value=feature.min_value,
        max_value=feature.max_value,
        help_text="",
        **kwargs,
    )


class PredictionForm(forms.ModelForm):
    class Meta:
        model = PredictionRequest
        fields = features.INPUT_NAMES
        formfield_callback = _bounded_formfield

    def clean(self):
        unknown = features.unknown_fields(set(self.data) - {"csrfmiddlewaretoken"})
        if unknown:
            raise forms.ValidationError(
                features.unknown_fields_message(unknown), code="unknown_field"
            )
        return super().clean()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in features.INPUT_NAMES:
            # The fields are nullable in the table (refused requests have no values), never here.
            self.fields[name].required = True
            self.fields[name].widget.attrs.update(
                {"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}
            )
