"""predictor.refusals: one wording per refusal, stored as a code, read back in any language."""

import re

import pytest
from django.utils import translation

from predictor import refusals
from predictor.refusals import MESSAGES, Refusal

from .conftest import STORED_REFUSALS

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.mark.parametrize(
    ("errors", "english", "chinese"),
    [case[1:] for case in STORED_REFUSALS],
    ids=[case[0] for case in STORED_REFUSALS],
)
def test_a_stored_refusal_of_any_age_reads_in_the_readers_language(errors, english, chinese):
    [field] = errors
    with translation.override("en"):
        assert refusals.describe_errors(errors) == {field: [english]}
    with translation.override("zh-hans"):
        assert refusals.describe_errors(errors) == {field: [chinese]}


def test_a_refusal_is_stored_as_its_code_and_parameters_never_a_sentence():
    refusal = Refusal("max_value", {"limit_value": 20000})
    with translation.override("zh-hans"):
        stored = refusal.stored()
        assert str(refusal) == "确保该值小于或等于20,000。"
    assert stored == {"code": "max_value", "params": {"limit_value": 20000}}
    with translation.override("en"):
        assert refusals.describe(stored) == "Ensure this value is less than or equal to 20,000."


def test_every_refusal_has_a_chinese_sentence_with_the_same_parameters():
    for code, message in MESSAGES.items():
        with translation.override("en"):
            english = str(message)
        with translation.override("zh-hans"):
            chinese = str(message)
        # Django's catalogue or ours: either way the Chinese must exist and fill the same slots.
        assert chinese != english, code
        assert sorted(PLACEHOLDER.findall(chinese)) == sorted(PLACEHOLDER.findall(english)), code


def test_a_sentence_nobody_wrote_is_shown_as_it_is():
    with translation.override("zh-hans"):
        assert refusals.describe("bad") == "bad"
        assert refusals.describe_errors(None) is None


def test_the_envelope_carries_detail_code_and_only_then_errors():
    with translation.override("en"):
        assert refusals.error_body(Refusal("no_active_model"), "service_unavailable") == {
            "detail": "No model is active yet. Run `python manage.py retrain` first.",
            "code": "service_unavailable",
        }
    assert refusals.error_body("x", "invalid", {"likes": ["y"]})["errors"] == {"likes": ["y"]}
