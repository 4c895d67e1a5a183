"""Numbers as people read them: "about 46,300", "9 times in 10".

The core's one wording of a figure, for every door that shows one: the pages (through the
`viewsite` template tags) and `manage.py predict` say an answer in the same words.
"""

import math
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import cache

from django.utils import formats
from django.utils.translation import gettext


def about(value, digits: int = 3) -> str:
    """`value` to `digits` significant figures, grouped for the language: 46292.74 → "46,300".

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
    rounded = Decimal(repr(value)).quantize(step, rounding=ROUND_HALF_UP)
    # Grouped as the active language groups digits: 46,300 in English, 46300 in Chinese.
    return formats.number_format(rounded, decimal_pos=0, force_grouping=True)


def times_in(coverage) -> str:
    """A coverage as a frequency, in the active language: 0.9 → "9 times in 10" ("10 次中有 9 次"),
    0.95 → "19 times in 20". To a thousandth, so 0.999 reads "999 times in 1000", never
    "1 times in 1" (always)."""
    if coverage is None:
        return ""
    hits, tries = _frequency(coverage)
    return gettext("%(hits)s times in %(tries)s") % {"hits": hits, "tries": tries}


@cache  # a version's coverage, asked on every answer it gives; the few there are, once each
def _frequency(coverage: float) -> tuple[int, int]:
    share = Fraction(coverage).limit_denominator(1000)
    return share.numerator, share.denominator


def percent(value, places: int = 1) -> str:
    return "" if value is None else f"{value * 100:.{places}f}%"
