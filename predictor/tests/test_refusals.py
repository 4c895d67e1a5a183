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


@pytest.mark.parametrize(
    ("refusal", "english", "chinese"),
    [
        (
            Refusal("batch_too_long", {"limit": 10000, "length": 12345}),
            "A batch takes at most 10,000 inputs; this one has 12,345.",
            "一个批次最多 10,000 个输入；这个批次有 12,345 个。",
        ),
        (
            Refusal("too_few_rows", {"rows": 4, "minimum": 10}),
            "Only 4 data rows; at least 10 are needed to train and cross-validate a model.",
            None,
        ),
        # What was typed is shown back as it was typed, digits and all.
        (
            Refusal("decimal_comma", {"value": "12345,5"}),
            "“12345,5” is not a whole number: a comma separates thousands (1,500), not decimals.",
            None,
        ),
    ],
)
def test_a_refusal_writes_its_numbers_as_the_pages_do_and_stores_them_as_numbers(
    refusal, english, chinese
):
    with translation.override("en"):
        assert str(refusal) == english
        assert refusals.describe(refusal.stored()) == english
    if chinese is not None:
        with translation.override("zh-hans"):
            assert str(refusal) == chinese
    assert refusal.stored()["params"] == dict(refusal.params)


def test_a_body_too_large_keeps_its_limit_as_a_number_and_says_it_grouped(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
    refusal = refusals.body_too_large()
    assert refusal.stored() == {"code": "body_too_large", "params": {"limit": 2_621_440}}
    with translation.override("zh-hans"):
        assert str(refusal) == "请求体超过了 2,621,440 字节的上限。"
        # Rows stored before the limit was a number hold it grouped by hand, and read the same.
        old = {"code": "body_too_large", "params": {"limit": "2,621,440"}}
        assert refusals.describe(old) == str(refusal)


def test_an_earlier_library_sentence_reads_with_its_numbers_grouped():
    stored = "Ensure this field has no more than 10000 elements."
    with translation.override("en"):
        assert refusals.describe(stored) == "Ensure this field has no more than 10,000 elements."
    with translation.override("zh-hans"):
        assert refusals.describe(stored) == "该字段不能超过 10,000 个元素。"


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
