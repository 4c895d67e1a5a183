"""The common API request, answered without the machinery it does not need.

Nearly every prediction request is the same: an anonymous JSON POST of `{"likes": n,
"shares": m}` (or a list of them), without cookies. For that request, DRF's APIView and the
session, CSRF, authentication and messages middleware spent more CPU than the prediction and
its audit row together (bench/README.md has the figures), while doing nothing for it. This
middleware, placed after the ones that secure every response (SecurityMiddleware, the CSP and
X-Frame-Options headers) and before the rest, answers exactly that request with the same parts
the DRF view uses: the same rate-limit classes, the same input check, the same service call (so
the same audit row), the same answer and error envelope. Every other request goes on, untouched,
to the rest of the stack and the DRF view:

- anything that may be authenticated (an Authorization header or a session cookie), so the
  audit row names its user and SessionAuthentication enforces CSRF;
- another content type, an Accept other than JSON (the browsable API) or a query string;
- a body the quick check does not accept as plain inputs (DRF's parser and serializer say
  what is wrong, and audit it);
- a request over its rate limit (DRF refuses it with 429 and counts the refusal; the worker
  already knows the limit is reached, so asking again costs no second trip to Redis).
"""

import json
import logging
import time
from functools import cache

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpResponse
from django.urls import get_urlconf, reverse

from .. import services
from .errors import ServiceUnavailable, as_api_exception
from .serializers import plain_inputs, predictions_json
from .views import PredictionListCreateView

logger = logging.getLogger(__name__)

_JSON_ACCEPT = {"", "*/*", "application/json"}


class FastLaneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.path_info == _predictions_path(get_urlconf()):
            response = _answer(request)
            if response is not None:
                return response
        return self.get_response(request)


@cache
def _predictions_path(urlconf) -> str:
    return reverse("predictor:prediction-list", urlconf=urlconf)


def _answer(request) -> HttpResponse | None:
    """The lane's answer, or None to let the rest of the stack answer."""
    started = time.perf_counter()
    # CommonMiddleware, further down, is what would refuse a Host not in ALLOWED_HOSTS.
    request.get_host()
    payload = _plain_payload(request)
    if payload is None:
        return None
    batch = isinstance(payload, list)
    inputs = plain_inputs(payload, batch=batch)
    if inputs is None:
        return None
    # No session cookie and no Authorization header: AuthenticationMiddleware would find no one.
    request.user = AnonymousUser()
    view = PredictionListCreateView()
    view.setup(request)
    if not all(throttle.allow_request(request, view) for throttle in view.get_throttles()):
        return None
    # Allow and Vary, as DRF sends them; the answer would differ with a session cookie, as
    # SessionMiddleware says of DRF's.
    headers = {**view.default_response_headers, "Vary": "Accept, Cookie"}
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


def _plain_payload(request):
    """The decoded JSON body if the request is one for the lane, else None."""
    meta = request.META
    if (
        "HTTP_AUTHORIZATION" in meta
        or settings.SESSION_COOKIE_NAME in request.COOKIES
        or meta.get("QUERY_STRING")
        or request.content_type != "application/json"
        or meta.get("HTTP_ACCEPT", "").strip() not in _JSON_ACCEPT
    ):
        return None
    try:
        # UTF-8 only, as DRF's parser reads it (json.loads would also guess UTF-16 and -32).
        payload = json.loads(request.body.decode())
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
    content = body.encode()
    # CommonMiddleware, further down, is what would set Content-Length.
    return HttpResponse(
        content,
        status=status,
        content_type="application/json",
        headers={**headers, "Content-Length": str(len(content))},
    )
