"""display writes figures in the active language's layout: its fast path must write exactly what
Django's number_format writes."""

import math
import random
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import formats, translation

from predictor import display


def reference_decimal(value: float, places: int) -> str:
    rounded = Decimal(repr(float(value))).quantize(
        Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP
    )
    return formats.number_format(rounded, decimal_pos=places, force_grouping=True)


def edge_values() -> list[float]:
    draw = random.Random(23)
    values = [0.0, -0.0, -0.001, 0.004, -0.005, 0.005, 0.125, -0.125, 2.675, 999.995, 1e14, -1e14]
    values += [1e16, -3.3e17, 1e-9, 5e-7]  # past the fast path's limit, and tiny
    for _ in range(2000):
        magnitude = draw.choice([1, 10, 1_000, 100_000, 10_000_000, 1e12])
        values.append(draw.uniform(-magnitude, magnitude))
    return values


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("places", [0, 1, 2, 3, 6])
def test_decimal_writes_what_number_format_writes(language, places):
    with translation.override(language):
        for value in edge_values():
            assert display.decimal(value, places) == reference_decimal(value, places), value


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_count_of_a_whole_number_writes_what_number_format_writes(language):
    with translation.override(language):
        for value in [0, 7, -7, 999, 1000, -1000, 20_000, 1_234_567, 10**15, -(10**18)]:
            expected = formats.number_format(value, force_grouping=True)
            assert display.count(value) == expected
        assert display.count(47765.75) == "47,766"
        assert display.count(1234567) == "1,234,567"


def test_a_language_that_groups_otherwise_is_written_by_django(settings):
    # German groups with "." and marks decimals with ",": the fast path must step aside.
    with translation.override("de"):
        assert display.decimal(1234.5, 2) == "1.234,50"
        assert display.count(1234567) == "1.234.567"


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("digits", [1, 3, 5])
def test_about_writes_what_number_format_writes(language, digits):
    with translation.override(language):
        for value in edge_values():
            if value == 0 or abs(value) >= 1e15:
                continue
            magnitude = math.floor(math.log10(abs(value)))
            step = Decimal(1).scaleb(max(0, magnitude - digits + 1))
            rounded = Decimal(repr(value)).quantize(step, rounding=ROUND_HALF_UP)
            expected = formats.number_format(rounded, decimal_pos=0, force_grouping=True)
            assert display.about(value, digits) == expected, value
