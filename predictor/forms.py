"""The browser form: the audit model's likes and shares, read as every door reads a count."""

from functools import cache

from django import forms
from django.forms.utils import ErrorList
from django.utils.functional import lazy
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext

from . import display, features
from .counts import CountRefused, read_count
from .models import PredictionRequest
from .refusals import MESSAGES, Refusal, render


def _invalid(refusal: Refusal) -> forms.ValidationError:
    # Kept as a code with its parameters, so the audit stores no sentence.
    return forms.ValidationError(refusal.template, code=refusal.code, params=dict(refusal.params))


class RefusalList(ErrorList):
    """A field's errors as every door words a refusal (refusals.render): with its numbers written
    for people ("20,000", as the hint beside it says), where Django would put the parameters in
    as they are."""

    def __getitem__(self, index):
        error = self.data[index]
        if isinstance(error, forms.ValidationError) and error.code in MESSAGES:
            return render(error.code, error.params)
        return super().__getitem__(index)


class CountInput(forms.TextInput):
    """The count's text input, the tag Django's input template writes, written by format_html:
    the form renderer's three templates (input, attrs, the loop over them) were a fifth of the
    form page's rendering, for one tag (bench/README.md). Same context, same attributes."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        # Every name and value escaped, as the templates' {{ }} escape them; one join instead of
        # a format_html per attribute, which cost as much again.
        tag = [f'<input type="{escape(widget["type"])}" name="{escape(widget["name"])}"']
        if widget["value"] is not None:
            tag.append(f' value="{escape(widget["value"])}"')
        # In their order; True is written as the bare name, False not at all (attrs.html).
        for attribute, setting in widget["attrs"].items():
            if setting is True:
                tag.append(f" {escape(attribute)}")
            elif setting is not False:
                tag.append(f' {escape(attribute)}="{escape(setting)}"')
        tag.append(">")
        return mark_safe("".join(tag))


@cache
def _hint_in(language: str, minimum: int, maximum: int | None) -> str:
    """The hint in `language`, the active one: written once per language and bounds, as a page
    asks for it each time it names the field (label, input, description: eight a form)."""
    if maximum is None:
        return gettext(
            "A whole number, %(minimum)s or more, with or without commas (1200 or 1,200)."
        ) % {"minimum": display.count(minimum)}
    return gettext(
        "A whole number from %(minimum)s to %(maximum)s, with or without commas (1200 or 1,200)."
    ) % {"minimum": display.count(minimum), "maximum": display.count(maximum)}


def _hint(minimum: int, maximum: int | None) -> str:
    return _hint_in(get_language(), minimum, maximum)


_count_hint = lazy(_hint, str)


class CountField(forms.Field):
    """A count as people type it (predictor.counts). A text input with a numeric keyboard,
    because a number input refuses thousands separators before the server sees them."""

    widget = CountInput

    def __init__(self, *, minimum: int = 0, maximum: int | None = None, **kwargs):
        self.minimum, self.maximum = minimum, maximum
        # What the field takes, said beside it (issue 22 §7): its own bounds, in the page's
        # language and numbers, written when the page is.
        kwargs.setdefault("help_text", _count_hint(minimum, maximum))
        super().__init__(**kwargs)

    def to_python(self, value):
        try:
            return read_count(value, minimum=self.minimum, maximum=self.maximum)
        except CountRefused as refused:
            raise _invalid(refused.refusal) from refused


def _count_formfield(model_field, **kwargs):
    # capfirst, as Django's own formfield() labels a model field ("Likes", not "likes").
    feature = features.BY_NAME[model_field.name]
    return CountField(
        minimum=feature.min_value,
        maximum=feature.max_value,
        label=capfirst(model_field.verbose_name),
        **kwargs,
    )


class PredictionForm(forms.ModelForm):
    class Meta:
        model = PredictionRequest
        fields = features.INPUT_NAMES
        formfield_callback = _count_formfield

    def clean(self):
        unknown = features.unknown_fields(set(self.data) - {"csrfmiddlewaretoken"})
        if unknown:
            raise _invalid(features.unknown_fields_refusal(unknown))
        return super().clean()

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("error_class", RefusalList)
        super().__init__(*args, **kwargs)
        for name in features.INPUT_NAMES:
            field = self.fields[name]
            field.widget.attrs.update(
                {"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}
            )
            # Written once for this page: each field's own copy, which the page reads eight times.
            field.help_text = str(field.help_text)

    def refusals(self) -> dict[str, list[Refusal]]:
        """The form's errors as refusals, for the audit trail."""
        return {
            name: [Refusal(error.code, error.params or {}) for error in errors]
            for name, errors in self.errors.as_data().items()
        }
