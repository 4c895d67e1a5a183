"""The common API request, answered without DRF's per-request machinery.

Nearly every prediction request is the same: an anonymous JSON POST of `{"likes": n,
"shares": m}` (or a list of them). For that request, DRF's APIView spent more CPU choosing a
renderer, authenticating nobody, wrapping the request, parsing and rendering than the
prediction and its audit row together (bench/README.md has the figures). This lane answers
exactly that request with the same parts the DRF view uses: the same rate-limit classes, the
same input check, the same service call (so the same audit row), the same answer and error
envelope. Every other request goes, untouched, to the DRF view:

- anything that may be authenticated (an Authorization header or a session cookie), so the
  audit row names its user and SessionAuthentication enforces CSRF;
- another content type, an Accept other than JSON (the browsable API) or a query string;
- a body the quick check does not accept as plain inputs (DRF's parser and serializer say
  what is wrong, and audit it);
- a request over its rate limit (DRF refuses it with 429 and counts it; the refused request
  is counted twice in the window, which only moves the count further past the limit).
"""

import json
import logging
import time
from functools import wraps

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpResponse

from .. import services
from .errors import ServiceUnavailable, as_api_exception
from .serializers import plain_inputs, predictions_json

logger = logging.getLogger(__name__)

_JSON_ACCEPT = {"", "*/*", "application/json"}


def with_fast_lane(drf_view):
    """`drf_view`, with plain anonymous JSON predictions answered by the lane."""

    view_class = drf_view.view_class

    @wraps(drf_view)
    def view(request, *args, **kwargs):
        started = time.perf_counter()
        payload = _plain_payload(request)
        if payload is None:
            return drf_view(request, *args, **kwargs)
        batch = isinstance(payload, list)
        inputs = plain_inputs(payload, batch=batch)
        if inputs is None or not all(
            throttle().allow_request(request, None) for throttle in view_class.throttle_classes
        ):
            return drf_view(request, *args, **kwargs)
        # The Allow and Vary headers DRF's view would send.
        drf = view_class()
        drf.setup(request, *args, **kwargs)
        headers = drf.default_response_headers
        info = services.RequestInfo.from_request(request, channel="api", started=started)
        try:
            records = services.predict(
                inputs=inputs, raw_inputs=payload if batch else [payload], info=info, batch=batch
            )
        except services.ModelUnavailable as error:
            return _error(ServiceUnavailable(str(error)), headers)
        except DatabaseError as error:
            return _error(as_api_exception(error), headers)
        output = predictions_json(records)
        return _json(output if batch else output[0], 201, headers)

    return view


def _plain_payload(request):
    """The decoded JSON body if the request is one for the lane, else None."""
    meta = request.META
    if (
        request.method != "POST"
        or "HTTP_AUTHORIZATION" in meta
        or settings.SESSION_COOKIE_NAME in request.COOKIES
        or meta.get("QUERY_STRING")
        or request.content_type != "application/json"
        or meta.get("HTTP_ACCEPT", "").strip() not in _JSON_ACCEPT
    ):
        return None
    try:
        payload = json.loads(request.body)
    except (RequestDataTooBig, ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict | list) else None


def _error(exc, headers) -> HttpResponse:
    # The envelope predictor.api.errors gives every other API error.
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    return _json({"detail": str(exc.detail), "code": code}, exc.status_code, headers)


def _json(data, status: int, headers) -> HttpResponse:
    # Compact UTF-8, as DRF's JSONRenderer writes it.
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return HttpResponse(
        body.encode(), status=status, content_type="application/json", headers=headers
    )
