"""The form's count input: the tag Django's own text input writes, without its templates."""

import pytest
from django import forms

from predictor.forms import CountInput, PredictionForm


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
