"""Strict JSON parsing that keeps the start of a malformed body for the audit trail.

DRF reads JSON through `request.body`, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE already bounds it
(see predictor.api.errors for the 413). Strict mode refuses the `NaN`/`Infinity` literals that
Python's json module would otherwise accept.
"""

from django.utils.translation import gettext
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

BODY_EXCERPT_CHARS = 1000


class MalformedJSON(ParseError):
    def __init__(self, detail: str, *, body_excerpt: str, reason: str):
        super().__init__(detail)
        self.body_excerpt = body_excerpt
        self.reason = reason  # the JSON decoder's words, for the audit


class StrictJSONParser(JSONParser):
    strict = True

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except ParseError as error:
            reason = str(error.__context__ or error.detail)
            raise MalformedJSON(
                str(error.detail), body_excerpt=_excerpt(stream), reason=reason
            ) from error
        except RecursionError as error:
            # json raises this, not ValueError, for nesting deeper than the interpreter allows.
            raise MalformedJSON(
                gettext("JSON parse error - nested too deeply."),
                body_excerpt=_excerpt(stream),
                reason="nested too deeply",
            ) from error


def _excerpt(stream) -> str:
    stream.seek(0)
    return stream.read(BODY_EXCERPT_CHARS).decode("utf-8", errors="replace")
