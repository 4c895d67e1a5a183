"""Numbers and dates as people read them: "47,766", "about 46,300", "9 times in 10", "1.0 ms",
"97.7%", "2026年12月7日 20:41 (Asia/Shanghai)".

The one place that writes a figure or a date for a person, in the active language: the pages
(through the `viewsite` template filters of the same names), the plots, the admin and the
commands all write them through here, so one answer never reads two ways. The separators and
date layouts are each language's formats (viewsite/formats over Django's own); this module
decides the rounding: a view count is a whole number, a duration has at most one decimal, a
share is a percentage. It imports nothing of the project, so any module can write through it
without an import circle: the refusals' sentences do, and the features import the refusals.
"""

import math
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import cache

from django.utils import formats, timezone, translation
from django.utils.translation import gettext


def about(value, digits: int = 3) -> str:
    """`value` to `digits` significant figures, grouped for the language: 46292.74 → "46,300";
    a count, so never finer than a whole number: 46.5 → "47", as `count` writes it.

    An interval tens of thousands wide makes the last digits of a prediction noise; showing
    them would claim a precision the model does not have.
    """
    if value is None or not math.isfinite(value):
        return ""
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    # Halves round up, as people round (46,250 → 46,300), not to even as round() does; below
    # 100 to the unit (the preview's JavaScript rounds the same way).
    step = Decimal(1).scaleb(max(0, magnitude - digits + 1))
    rounded = Decimal(repr(float(value))).quantize(step, rounding=ROUND_HALF_UP)
    # Grouped as the active language's format groups digits: "46,300" in both (viewsite/formats).
    return Figures().grouped(rounded, 0)


def times_in(coverage) -> str:
    """A coverage as a frequency, in the active language: 0.9 → "9 times in 10" ("10 次中有 9 次"),
    0.95 → "19 times in 20". To a thousandth, so 0.999 reads "999 times in 1,000", never
    "1 times in 1" (always)."""
    if coverage is None:
        return ""
    hits, tries = _frequency(coverage)
    return gettext("%(hits)s times in %(tries)s") % {"hits": count(hits), "tries": count(tries)}


@cache  # a version's coverage, asked on every answer it gives; the few there are, once each
def _frequency(coverage: float) -> tuple[int, int]:
    share = Fraction(coverage).limit_denominator(1000)
    return share.numerator, share.denominator


def count(value) -> str:
    """A whole number, halves rounded up, grouped: 47765.75 → "47,766". Views, likes, rows."""
    return Figures().count(value)


def decimal(value, places: int = 3) -> str:
    """A measure such as R² or a coefficient to `places` decimals, grouped: "0.977"."""
    return Figures().decimal(value, places)


def signed(value, places: int = 2) -> str:
    """A change with its sign written out, never left to colour: "+3,840.00", "−1,250.50"
    (a minus sign, not a hyphen). Zero is "+0.00"."""
    return Figures().signed(value, places)


# Below this a number's digits are written out in full by Python and by Django alike.
_PLAIN_LIMIT = 10**15


class Figures:
    """count, decimal and signed in the language active when it is made, whose layout is looked
    up once: for code that writes many figures at a time (an answer's explanation writes a dozen
    per request, and each look-up of the active language costs as much as writing a figure).

    Where the language writes 1,234.5 (both of ours do, viewsite/formats), Python's own ","
    format writes exactly what formats.number_format writes, at a fraction of the cost; any
    other layout is Django's to write."""

    def __init__(self):
        self.plain = _writes_plain_grouping(translation.get_language())

    def count(self, value) -> str:
        if isinstance(value, int):  # likes, shares, rows: nothing to round
            return self.grouped(value, 0)
        return self.decimal(value, 0)

    def decimal(self, value, places: int = 3) -> str:
        if value is None or not math.isfinite(value):
            return ""
        # Rounded here, halves up: number_format cuts the digits after decimal_pos off.
        rounded = Decimal(repr(float(value))).quantize(_quantum(places), rounding=ROUND_HALF_UP)
        return self.grouped(rounded, places)

    def signed(self, value, places: int = 2) -> str:
        if value is None or not math.isfinite(value):
            return ""
        written = self.decimal(abs(value), places)
        # Halves round up: a change is written as zero exactly when under half the last place.
        shown_as_zero = abs(value) < 0.5 * 10**-places
        return f"−{written}" if value < 0 and not shown_as_zero else f"+{written}"

    def grouped(self, number: int | Decimal, places: int) -> str:
        """A whole number, or a Decimal already rounded to `places`, grouped:
        formats.number_format(number, decimal_pos=places, force_grouping=True)."""
        if self.plain and abs(number) < _PLAIN_LIMIT:
            if not number:  # number_format writes a rounded -0.00 as 0.00; a Decimal keeps its sign
                number = abs(number)
            return f"{number:,f}" if isinstance(number, Decimal) else f"{number:,}"
        return formats.number_format(number, decimal_pos=places, force_grouping=True)


@cache
def _quantum(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


@cache
def _writes_plain_grouping(language: str | None) -> bool:
    """Whether `language` groups digits by three with "," and marks decimals with "."."""
    return (
        formats.get_format("NUMBER_GROUPING", language) == 3
        and formats.get_format("THOUSAND_SEPARATOR", language) == ","
        and formats.get_format("DECIMAL_SEPARATOR", language) == "."
    )


def percent(value, places: int = 1) -> str:
    """A share as a percentage: 0.97679 → "97.7%"."""
    if value is None or not math.isfinite(value):
        return ""
    return f"{decimal(value * 100, places)}%"


def milliseconds(value) -> str:
    """A duration given in milliseconds, to at most one decimal: 0.97679 → "1.0 ms"."""
    if value is None or not math.isfinite(value):
        return ""
    return gettext("%(value)s ms") % {"value": decimal(value, 1)}


def seconds(value) -> str:
    """A duration given in seconds, as the reader would say it: 0.00046 → "0.5 ms",
    2.345 → "2.3 s"."""
    if value is None or not math.isfinite(value):
        return ""
    if abs(value) < 1:
        return milliseconds(value * 1000)
    return gettext("%(value)s s") % {"value": decimal(value, 1)}


def when(value, named: bool = True) -> str:
    """A moment in the site's time zone, in the language's date and time layout, the zone named
    unless the page names it once: "2026年12月7日 20:41 (Asia/Shanghai)"."""
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    written = formats.date_format(value, "DATETIME_FORMAT")
    return f"{written} ({zone()})" if named else written


def zone() -> str:
    """The name of the time zone that `when` writes in: "Asia/Shanghai"."""
    return timezone.get_current_timezone_name()


# --- Records' titles (the admin's row titles, its breadcrumbs and history) ----------------------
# Each record's __str__ is one of these: a title in the reader's language and the site's time zone,
# written from the row alone (its choices' labels, and a related row only where the admin's list
# reads it with select_related), so that no title costs a query.


def prediction_title(record) -> str:
    """ "#12 Form, 7 Dec 2026, 20:41 (Asia/Shanghai) → 47,766 views", or "… → refused"."""
    params = {
        "number": record.pk,
        "channel": record.get_channel_display(),
        "when": when(record.created_at),
    }
    if not record.accepted:
        return gettext("#%(number)s %(channel)s, %(when)s → refused") % params
    # The answer served, not the model's figure the row keeps.
    return gettext("#%(number)s %(channel)s, %(when)s → %(views)s views") % {
        **params,
        "views": count(record.served_views),
    }


def activation_title(activation) -> str:
    """ "v3 activated 7 Dec 2026, 20:41 (Asia/Shanghai) (admin)"."""
    return gettext("%(version)s activated %(when)s (%(door)s)") % {
        "version": activation.version.label,
        "when": when(activation.activated_at),
        "door": activation.get_door_display(),
    }


def outcome_title(outcome) -> str:
    """ "#12: 51,234 real views (API)"."""
    return gettext("#%(prediction)s: %(views)s real views (%(source)s)") % {
        "prediction": outcome.prediction_id,
        "views": count(outcome.views),
        "source": outcome.get_source_display(),
    }


def seal_title(seal) -> str:
    """ "#4 sealed 7 Dec 2026, 20:41 (Asia/Shanghai), 3f2a9c0d1b7e"."""
    return gettext("#%(number)s sealed %(when)s, %(digest)s") % {
        "number": seal.number,
        "when": when(seal.sealed_at),
        "digest": seal.digest[:12],
    }


def throttled_title(counted) -> str:
    """ "203.0.113.9 (anon), the minute from 7 Dec 2026, 20:41 (Asia/Shanghai)". Without the
    count, which the cache may hold more of than the row (services.live_count)."""
    return gettext("%(client)s (%(scope)s), the minute from %(when)s") % {
        "client": counted.client,
        "scope": counted.scope,
        "when": when(counted.minute),
    }


# --- Days and months (the admin's date drill-down) -----------------------------------------------


def day(value) -> str:
    """A calendar day in the language's date layout, as `when` writes its date: "2026年12月7日",
    "7 Dec 2026"."""
    return formats.date_format(value, "DATE_FORMAT")


def month(value) -> str:
    """A calendar month in the language's layout: "2026年12月", "December 2026"."""
    return formats.date_format(value, "YEAR_MONTH_FORMAT")


# --- A model's parameters (the card's equation, `retrain`'s report) ------------------------------


def coefficient(value, log_scale: bool = False) -> str:
    """A coefficient or an intercept, grouped: to 2 decimals ("83.94"), to 4 on logarithms, where
    the third decimal matters ("0.5123"), and as a whole number when it is one to those
    decimals: an exact fit reads "80", not "80.00"."""
    if value is None or not math.isfinite(value):
        return ""
    places = 4 if log_scale else 2
    if abs(value - round(value)) < 0.5 * 10**-places:
        return count(value)
    return decimal(value, places)
