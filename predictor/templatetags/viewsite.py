"""Numbers as people read them: "about 46,300", "9 times in 10"."""

import math
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from django import template

register = template.Library()


@register.filter
def about(value, digits: int = 3) -> str:
    """`value` to `digits` significant figures, with thousands separators: 46292.74 → "46,300".

    An interval tens of thousands wide makes the last digits of a prediction noise; showing
    them would claim a precision the model does not have.
    """
    if value is None or not math.isfinite(value):
        return ""
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    # Halves round up, as people round (46,250 → 46,300), not to even as round() does.
    step = Decimal(1).scaleb(magnitude - digits + 1)
    return f"{Decimal(repr(value)).quantize(step, rounding=ROUND_HALF_UP):,.0f}"


def _as_frequency(coverage) -> tuple[int, int] | None:
    """0.9 → (9, 10); 0.95 → (19, 20)."""
    if coverage is None:
        return None
    # To a thousandth, so 0.999 reads "999 times in 1000", never "1 times in 1" (always).
    share = Fraction(coverage).limit_denominator(1000)
    return share.numerator, share.denominator


@register.filter
def times_in(coverage) -> str:
    """A coverage as a frequency: 0.9 → "9 times in 10", 0.95 → "19 times in 20"."""
    frequency = _as_frequency(coverage)
    return f"{frequency[0]} times in {frequency[1]}" if frequency else ""


@register.filter
def times_in_zh(coverage) -> str:
    """The same in Chinese: 0.9 → "10 次中有 9 次"."""
    frequency = _as_frequency(coverage)
    return f"{frequency[1]} 次中有 {frequency[0]} 次" if frequency else ""


@register.filter
def percent(value, places: int = 1) -> str:
    return "" if value is None else f"{value * 100:.{places}f}%"
