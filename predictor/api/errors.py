"""One JSON error envelope for every API error: {"detail": ..., "code": ..., "errors": ...}.

`detail` is a sentence for a person, `code` is stable for programs, and `errors` (only on
validation errors) holds the field errors: a dict for one input, a list of dicts for a batch.
"""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import Http404
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

from ..services import record_throttled
from .throttling import CacheError, throttled_client

logger = logging.getLogger(__name__)


class RequestBodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "body_too_large"

    def __init__(self):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        super().__init__(
            gettext("The request body is larger than the limit of %(limit)s bytes.")
            % {"limit": f"{limit:,}"}
        )


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("The service is temporarily unavailable. Try again shortly.")
    default_code = "service_unavailable"


def as_api_exception(exc: Exception) -> Exception:
    """Django's own exceptions as the APIException a client should see; others unchanged."""
    if isinstance(exc, DatabaseError):
        # Without the database no request can be audited, so none may be answered.
        logger.error("database unavailable error=%s", exc)
        return ServiceUnavailable(
            gettext("The database is unavailable, so the request was not served.")
        )
    if isinstance(exc, RequestDataTooBig):
        return RequestBodyTooLarge()
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    return exc


def error_body(detail, code: str, errors=None) -> dict:
    """The envelope of every error answer, from every door (the API, the JSON error pages)."""
    body = {"detail": str(detail), "code": code}
    if errors is not None:
        body["errors"] = errors
    return body


def exception_handler(exc, context):
    exc = as_api_exception(exc)
    if isinstance(exc, exceptions.Throttled) and context.get("request") is not None:
        _count_throttled(context["request"], context.get("view"))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        response.data = error_body(gettext("The input is not valid."), "invalid", exc.detail)
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
