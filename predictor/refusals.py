"""Why a request was refused, worded once: a stable code, its parameters, and one sentence per
language.

Every door (the form, the API, the pages, the commands) says a refusal through `Refusal`, and the
audit trail stores it as `{"code": ..., "params": {...}}` rather than as a sentence in whichever
language the client spoke, so the admin and the staff API can say it in the reader's. Rows
written before codes were stored hold sentences, English or Chinese (or Django's
`{"message", "code"}` pairs); `describe` reads those by matching them against the wordings of
that time, and says them again in the reader's language.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from . import display

# code -> the sentence, with %(name)s for each parameter. Django's own wordings are reused where
# they say the same thing, so Django's catalogues already translate them.
MESSAGES = {
    # A count (counts.read_count)
    "required": _("This field is required."),
    "missing": _("“%(value)s” marks a missing value; a number is required."),
    "not_a_number": _("“%(value)s” is not a whole number."),
    "decimal_comma": _(
        "“%(value)s” is not a whole number: a comma separates thousands (1,500), not decimals."
    ),
    "exponent": _("“%(value)s” is not a whole number: write the digits (1000), not an exponent."),
    "not_whole": _("“%(value)s” is not a whole number: a count has no fraction or decimal point."),
    "min_value": _("Ensure this value is greater than or equal to %(limit_value)s."),
    "max_value": _("Ensure this value is less than or equal to %(limit_value)s."),
    # A prediction's input (services.inputs)
    "unknown_field": _("Unknown field(s): %(fields)s. Only %(accepted)s are accepted."),
    "not_an_object": _("Expected an object with likes and shares, but got %(type)s."),
    "batch_empty": _("A batch needs at least one input."),
    "batch_too_long": _("A batch takes at most %(limit)s inputs; this one has %(length)s."),
    "not_predicted": _("Not predicted: other items in this batch are invalid."),
    # A CSV file (services.csv_files): located by the file, the line and the column
    "file_unreadable": _("The file cannot be read (%(reason)s)."),
    "file_empty": _("The file is empty; expected the header %(expected)s and rows."),
    "no_rows": _("The file has a header but no data rows."),
    "too_few_rows": _(
        "Only %(rows)s data rows; at least %(minimum)s are needed to train and cross-validate a "
        "model."
    ),
    "not_utf8": _("This is not UTF-8 text. Save the file as UTF-8 (CSV UTF-8) and retry."),
    "not_csv": _("This is not valid CSV (%(reason)s)."),
    "column_missing": _("The header has no column %(column)s; it has %(found)s."),
    "column_repeated": _("The header has the column %(column)s more than once (%(found)s)."),
    "column_unknown": _(
        "Unknown column(s) in the header: %(columns)s. Only %(accepted)s are accepted."
    ),
    # Rows refused before the reason had a code of its own hold the reason as `hint`, in English.
    "column_refused": _("The header has %(column)s, which this file does not take: %(hint)s"),
    "views_column": _(
        "The header has %(column)s, which this file does not take: views are what this command "
        "predicts; to train on real views use `retrain --data`, to record them use "
        "`import_outcomes`."
    ),
    "cells": _("The line has %(count)s cell(s); expected %(expected)s (%(columns)s)."),
    "unclosed_quote": _(
        "The line has %(count)s cell(s); expected %(expected)s (%(columns)s): a quote opened on "
        "it is not closed."
    ),
    # The request as a whole
    "invalid": _("The input is not valid."),
    "parse_error": _("The body is not valid JSON: %(reason)s"),
    "body_too_large": _("The request body is larger than the limit of %(limit)s bytes."),
    "csrf": _("The form's security check failed (%(reason)s). Reload the page and try again."),
    "throttled": _("Too many requests. Try again in %(seconds)s seconds."),
    "explain_flag": _(
        "explain takes 1 (or true, yes) to explain each answer, or 0 (or false, no); "
        "“%(value)s” is neither."
    ),
    # The service
    "no_active_model": _("No model is active yet. Run `python manage.py retrain` first."),
    "model_unavailable": _("Model %(version)s cannot be served: %(reason)s"),
    "database_unavailable": _("The database is unavailable, so the request was not served."),
}

# How refusals were worded before codes were stored (and still are by the libraries), each with
# the code it meant: `describe` recognises these in old audit rows. Each entry is the msgid, so
# its translation is found in any catalogue; `{name}` entries are DRF's format strings. Ours are
# marked with gettext_noop so that `make messages` keeps their translations in our catalogue
# after the code stopped saying them; Django's and DRF's catalogues hold the others.
EARLIER_WORDINGS = (
    ("not_a_number", "A valid integer is required."),
    ("not_a_number", "Enter a whole number."),
    ("required", "This field may not be null."),
    ("max_value", "Ensure this value is less than or equal to {max_value}."),
    ("min_value", "Ensure this value is greater than or equal to {min_value}."),
    ("not_an_object", "Invalid data. Expected a dictionary, but got {datatype}."),
    ("batch_empty", "This list may not be empty."),
    ("batch_too_long", "Ensure this field has no more than {max_length} elements."),
    ("parse_error", "JSON parse error - %(reason)s"),
    ("csrf", gettext_noop("CSRF check failed: %(reason)s")),
    ("model_unavailable", "Model %(version)s cannot be served: %(reason)s"),
    (
        "database_unavailable",
        gettext_noop("The database is unavailable. Please try again shortly."),
    ),
    ("throttled", "Request was throttled. Expected available in {wait} seconds."),
)

# Parameters are stored as given; text from the request is bounded before it is.
PARAM_TEXT_MAX = 200


@dataclass(frozen=True)
class Refusal:
    """One reason a request (or one field of it) was refused."""

    code: str
    params: Mapping = field(default_factory=dict)

    def __str__(self) -> str:
        return render(self.code, self.params)

    @property
    def template(self):
        """The sentence with its placeholders, lazily translated: for a Django ValidationError."""
        return MESSAGES[self.code]

    def stored(self) -> dict:
        """As the audit trail keeps it: the code and the parameters, no sentence."""
        return {"code": self.code, "params": dict(self.params)}


def render(code: str, params: Mapping | None = None) -> str:
    """The refusal in the active language, its numbers written as the pages write them."""
    return str(MESSAGES[code]) % shown(params or {})


def shown(params: Mapping) -> dict:
    """The parameters as a person reads them: a number (a bound, a length, a count of rows or
    seconds) as display writes a count, "20,000" beside the form's hint of 20,000; text (what
    was typed, a column, a reason) as it came. Stored and sent to programs as they are."""
    return {name: _written(value) for name, value in params.items()}


def _written(value):
    if isinstance(value, int | float) and not isinstance(value, bool):
        return display.count(value)
    return value


def quoted(value) -> str:
    """Input shown back inside a message, bounded: a 2 MB string is refused by its start."""
    text = str(value)
    return text if len(text) <= PARAM_TEXT_MAX else f"{text[:PARAM_TEXT_MAX]}…"


def body_too_large() -> Refusal:
    return Refusal("body_too_large", {"limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE})


def error_body(detail, code: str, errors=None) -> dict:
    """The envelope of every error answer, from every door: {"detail", "code"[, "errors"]}.

    `detail` is a sentence for a person, `code` is stable for programs, and `errors` (only on
    validation errors) holds the field errors: a dict for one input, a list of dicts for a batch.
    """
    body = {"detail": str(detail), "code": code}
    if errors is not None:
        body["errors"] = errors
    return body


# --- Reading the audit trail ---------------------------------------------------------------------


def describe(stored) -> str:
    """One refusal as the audit trail holds it, in the active language: a code with parameters,
    or a sentence (or Django's {"message", "code"}) from before codes were stored."""
    if isinstance(stored, Mapping):
        code = stored.get("code")
        if code in MESSAGES and "params" in stored:
            try:
                return render(code, stored["params"])
            except (KeyError, TypeError, ValueError):
                pass  # parameters of another shape: say the stored message, if any
        stored = stored.get("message", code or "")
    return _earlier_sentence(str(stored))


def describe_errors(errors):
    """A row's `errors` field with every refusal described: {field: [sentence, ...]}."""
    if isinstance(errors, Mapping) and not _is_one_refusal(errors):
        return {str(key): describe_errors(value) for key, value in errors.items()}
    if isinstance(errors, list):
        return [describe_errors(item) for item in errors]
    return describe(errors) if errors is not None else None


def _is_one_refusal(stored: Mapping) -> bool:
    # {"code", "params"} of ours, or {"message", "code"} of Django's or a library's: a refusal,
    # not a field's errors (no field is named "code" or "message").
    return bool(stored) and set(stored) <= {"code", "params", "message"}


def _earlier_sentence(text: str) -> str:
    for template, pattern, style in _earlier_patterns():
        found = pattern.fullmatch(text)
        if found is not None:
            translated = gettext(template)
            params = shown(_numbers(found.groupdict()))
            return translated.format(**params) if style == "{" else translated % params
    # An unparametrised sentence of ours or a library's is translated as it is.
    return gettext(text) if text else text


# A whole number in an earlier sentence ("… less than or equal to 20000.") is a bound, a length or
# a wait, never what was typed (typed digits are read as a count, not refused with their text).
_WHOLE = re.compile(r"-?[0-9]+")


def _numbers(params: dict) -> dict:
    return {
        name: int(value) if _WHOLE.fullmatch(value) else value for name, value in params.items()
    }


@cache
def _earlier_patterns() -> tuple:
    """Every wording (current and earlier, in every language of the site) as a pattern that gives
    back its parameters, the longest first so that the most specific wins."""
    wordings = [(_msgid(message), "%") for message in MESSAGES.values()]
    wordings += [(msgid, "{" if "{" in msgid else "%") for _, msgid in EARLIER_WORDINGS]
    patterns = []
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            for msgid, style in wordings:
                patterns.append((msgid, _pattern(gettext(msgid), style), style))
    patterns.sort(key=lambda entry: -len(entry[1].pattern))
    return tuple(patterns)


def _msgid(message) -> str:
    with translation.override(None):
        return str(message)


_PLACEHOLDER = {"%": re.compile(r"%\((\w+)\)s"), "{": re.compile(r"\{(\w+)\}")}


def _pattern(sentence: str, style: str) -> re.Pattern:
    parts = []
    position = 0
    for found in _PLACEHOLDER[style].finditer(sentence):
        parts.append(re.escape(sentence[position : found.start()]))
        parts.append(f"(?P<{found.group(1)}>.+?)")
        position = found.end()
    parts.append(re.escape(sentence[position:]))
    return re.compile("".join(parts), re.DOTALL)
