"""The form's count input: the tag Django's own text input writes, without its templates."""

import pytest
from django import forms
from django.utils import translation

from predictor import features
from predictor.forms import CountField, CountInput, PredictionForm


@pytest.mark.parametrize(
    "data",
    [
        {"likes": "500", "shares": "1,300"},
        {"likes": 'a<b"&', "shares": ""},  # refused: aria-invalid, described by the error
        None,  # the empty page: no value attribute at all
    ],
)
def test_the_count_input_writes_the_tag_of_djangos_text_input(data):
    form = PredictionForm(data)
    if data is not None:
        form.is_valid()
    for name in ("likes", "shares"):
        field = form[name]
        ours = str(field)
        assert isinstance(field.field.widget, CountInput)
        field.field.widget = forms.TextInput(attrs=field.field.widget.attrs)
        assert ours == str(field)


@pytest.mark.parametrize(
    ("maximum", "english", "chinese"),
    [
        (500, "A whole number from 0 to 500, with", "填 0 到 500 之间的整数"),
        (1_000_000, "from 0 to 1,000,000, with", "填 0 到 1,000,000 之间的整数"),
        (None, "A whole number, 0 or more, with", "填 0 及以上的整数"),
    ],
)
def test_a_count_field_s_hint_states_the_bounds_it_enforces(maximum, english, chinese):
    field = CountField(minimum=0, maximum=maximum)
    with pytest.raises(forms.ValidationError):
        field.clean(str(maximum + 1) if maximum else "-1")
    with translation.override("en"):
        assert english in str(field.help_text)
    with translation.override("zh-hans"):
        assert chinese in str(field.help_text)


def test_the_form_s_hints_follow_the_features_bounds():
    form = PredictionForm()
    for name in ("likes", "shares"):
        field = form.fields[name]
        assert (field.minimum, field.maximum) == (
            features.BY_NAME[name].min_value,
            features.BY_NAME[name].max_value,
        )
        with translation.override("en"):
            assert f"to {features.BY_NAME[name].max_value:,}," in str(field.help_text)


@pytest.mark.parametrize(
    ("language", "bound", "typed"),
    [
        (
            "en",
            "Ensure this value is less than or equal to 20,000.",
            "“50%” is not a whole number.",
        ),
        ("zh-hans", "确保该值小于或等于20,000。", "“50%”不是整数。"),
    ],
)
def test_the_form_s_errors_write_numbers_as_its_hints_and_keep_them_as_numbers(
    language, bound, typed
):
    with translation.override(language):
        form = PredictionForm({"likes": "25000", "shares": "50%"})
        assert not form.is_valid()
        # As the hint beside it writes the bound ("20,000"), and what was typed as it was.
        assert "20,000" in str(form.fields["likes"].help_text)
        assert list(form["likes"].errors) == [bound]
        assert list(form["shares"].errors) == [typed]
        assert f"<li>{bound}</li>" in str(form.errors)
    # The audit keeps the number, not the words.
    assert {name: [r.stored() for r in found] for name, found in form.refusals().items()} == {
        "likes": [{"code": "max_value", "params": {"limit_value": 20000}}],
        "shares": [{"code": "not_a_number", "params": {"value": "50%"}}],
    }
