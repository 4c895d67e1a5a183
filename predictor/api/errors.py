"""Every API error in the one envelope (predictor.refusals.error_body), worded by the core."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

from ..refusals import Refusal, body_too_large, error_body, render
from ..services import record_throttled
from .parsers import MalformedJSON
from .throttling import CacheError, throttled_client

logger = logging.getLogger(__name__)


class RequestBodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "body_too_large"

    def __init__(self):
        super().__init__(str(body_too_large()))


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("The service is temporarily unavailable. Try again shortly.")
    default_code = "service_unavailable"


class QueryRefused(APIException):
    """A query parameter's value is not one the operation takes; says which, as the core worded
    it (a Refusal, stored as its code and parameters)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_query"

    def __init__(self, refusal: Refusal):
        super().__init__(str(refusal))
        self.refusal = refusal


def refusal_of(exc: APIException):
    """A refused request's reason as the audit trail keeps it: a code with its parameters, or,
    for a library's refusal that has none of ours, its code and its sentence."""
    if isinstance(exc, MalformedJSON):
        return Refusal("parse_error", {"reason": exc.reason}).stored()
    if isinstance(exc, RequestBodyTooLarge):
        return body_too_large().stored()
    if isinstance(exc, QueryRefused):
        return exc.refusal.stored()
    return {"code": exc.default_code, "message": str(exc.detail)}


def as_api_exception(exc: Exception) -> Exception:
    """Django's own exceptions as the APIException a client should see; others unchanged."""
    if isinstance(exc, DatabaseError):
        # Without the database no request can be audited, so none may be answered.
        logger.error("database unavailable error=%s", exc)
        return ServiceUnavailable(render("database_unavailable"))
    if isinstance(exc, RequestDataTooBig):
        return RequestBodyTooLarge()
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    return exc


def exception_handler(exc, context):
    exc = as_api_exception(exc)
    if isinstance(exc, exceptions.Throttled) and context.get("request") is not None:
        _count_throttled(context["request"], context.get("view"))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        response.data = error_body(render("invalid"), "invalid", exc.detail)
    elif isinstance(exc, exceptions.Throttled):
        # Worded by the core, not DRF. DRF leaves `wait` unset only when no request of the
        # window is left to expire, which a throttle that just refused cannot be.
        seconds = exc.wait if exc.wait is not None else 1
        response.data = error_body(render("throttled", {"seconds": seconds}), "throttled")
    else:
        codes = exc.get_codes()
        response.data = error_body(
            exc.detail, codes if isinstance(codes, str) else exc.default_code
        )
    return response


def _count_throttled(request, view) -> None:
    scope, client = throttled_client(request, view)
    try:
        record_throttled(scope=scope, client=client)
    except (DatabaseError, *CacheError) as error:
        # The refusal stands either way; only its tally is missing.
        logger.error(
            "throttled request not counted scope=%s client=%s error=%s", scope, client, error
        )
