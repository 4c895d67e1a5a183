"""A count (likes, shares, real views, a prediction id) as a person or a file writes it.

`read_count` is the one place where a typed count becomes a number; the form, the API (one input
or a batch), `predict` (arguments or a CSV), `retrain --data`, the outcome API and
`import_outcomes` all read counts through it, so each input means the same thing at every door.

Accepted, as people mean them:
- digits, with spaces around: " 500 " is 500;
- full-width digits and commas from a Chinese keyboard (NFKC): "５００" is 500, "1，200" is 1200;
- thousands separators in their places: "1,200" and "12,345,678";
- a JSON integer (never true or false, which JSON keeps apart from numbers);
- a leading minus, only so that "-5" is refused for its bound, which is the clearer reason.

Refused, each with its own reason (predictor.refusals):
- nothing at all, or a blank cell: `required`. Only training fills a blank: a blank or NaN
  转发数 in a training file takes the row's 点赞数, as the course's cleaning does, and `retrain`
  reports how often (datasets.load_training_data, through `is_missing`); every other door, and
  every other column, refuses it;
- a spreadsheet's marker for a missing value (NaN, NA, N/A, null): `missing`;
- a comma that is not a thousands separator ("1,5", "1,20"), since a decimal comma cannot be
  told from a mistyped thousand: `decimal_comma`;
- an exponent ("1e3"): `exponent`;
- a decimal point or a fraction, even a whole one ("500.0", "500.5", "1/2", the JSON number
  500.0): `not_whole`, because a count is written without one and "500.0" is not what a person
  types;
- anything else (Python's "5_00", "+5", "0x10", digits of other scripts, words): `not_a_number`;
- outside the door's bounds: `min_value`, `max_value`.
"""

import math
import re
import unicodedata

from .refusals import Refusal, quoted

# How a spreadsheet or pandas writes a missing value; the course file writes NaN.
MISSING_MARKERS = frozenset({"nan", "na", "n/a", "null"})
# Longer than any count we take; spares Python converting a million digits.
DIGITS_MAX = 18

_PLAIN = re.compile(r"-?[0-9]+")
_GROUPED = re.compile(r"-?[0-9]{1,3}(?:,[0-9]{3})+")
_DECIMAL_COMMA = re.compile(r"-?[0-9][0-9,]*,[0-9]*")
_EXPONENT = re.compile(r"-?[0-9.]+[eE][-+]?[0-9]+")
_FRACTION = re.compile(r"-?[0-9]*[./][0-9]+|-?[0-9]+\.")


class CountRefused(ValueError):
    """A count that cannot be read, or is out of bounds; `refusal` says why."""

    def __init__(self, refusal: Refusal):
        super().__init__(str(refusal))
        self.refusal = refusal


def read_count(value, *, minimum: int = 0, maximum: int | None = None) -> int:
    """`value` (text as typed, or a JSON number) as a whole number within [minimum, maximum]."""
    number = _number(value)
    if number < minimum:
        raise CountRefused(Refusal("min_value", {"limit_value": minimum}))
    if maximum is not None and number > maximum:
        raise CountRefused(Refusal("max_value", {"limit_value": maximum}))
    return number


def is_missing(value) -> bool:
    """Whether `value` is blank or a missing-value marker: what training may fill (the course
    fills a blank 转发数 with its 点赞数) and every other door refuses."""
    if value is None:
        return True
    return isinstance(value, str) and _normal(value).lower() in {"", *MISSING_MARKERS}


def _number(value) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        # Plain ASCII digits, what files and most people send: what the steps below make of
        # them, without normalising and matching a million cells of a file (issue 21).
        return int(value) if len(value) <= DIGITS_MAX else 10**DIGITS_MAX
    if isinstance(value, bool):
        raise CountRefused(Refusal("not_a_number", {"value": quoted(value).lower()}))
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        code = "not_whole" if math.isfinite(value) else "not_a_number"
        raise CountRefused(Refusal(code, {"value": quoted(value)}))
    if value is None:
        raise CountRefused(Refusal("required"))
    if not isinstance(value, str):
        raise CountRefused(Refusal("not_a_number", {"value": quoted(value)}))
    text = _normal(value)
    if not text:
        raise CountRefused(Refusal("required"))
    if text.lower() in MISSING_MARKERS:
        raise CountRefused(Refusal("missing", {"value": quoted(text)}))
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if _PLAIN.fullmatch(text):
        if len(text.lstrip("-")) > DIGITS_MAX:
            # Beyond any bound, which refuses it, without converting a million digits.
            return -(10**DIGITS_MAX) if text.startswith("-") else 10**DIGITS_MAX
        return int(text)
    for pattern, code in (
        (_DECIMAL_COMMA, "decimal_comma"),
        (_EXPONENT, "exponent"),
        (_FRACTION, "not_whole"),
    ):
        if pattern.fullmatch(text):
            raise CountRefused(Refusal(code, {"value": quoted(text)}))
    raise CountRefused(Refusal("not_a_number", {"value": quoted(text)}))


def _normal(text: str) -> str:
    # NFKC makes full-width digits, commas and spaces ASCII; other scripts' digits stay as they
    # are, and the ASCII-only patterns refuse them.
    return unicodedata.normalize("NFKC", text).strip()
