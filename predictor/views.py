"""HTML pages and the health check. Each is a door into predictor.services."""

import logging
import time
from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import metrics, refusals, services
from .forms import PredictionForm
from .models import Channel, ModelVersion
from .refusals import Refusal, body_too_large, error_body

logger = logging.getLogger(__name__)


@require_http_methods(["GET", "POST"])
def predict_page(request):
    started = time.perf_counter()
    form = PredictionForm(request.POST or None)
    context = {"form": form}
    status = 200
    if request.method == "POST":
        info = services.RequestInfo.from_request(request, channel=Channel.FORM, started=started)
        raw_input = _form_input(request)
        try:
            if form.is_valid():
                [context["record"]] = services.predict(
                    inputs=[form.cleaned_data], raw_inputs=[raw_input], info=info
                )
                # From the answer's own figures and the predictor that computed them.
                [context["explanation"]] = services.explain_answers([context["record"]])
            else:
                services.record_refusal(raw_inputs=[raw_input], errors=[form.refusals()], info=info)
                status = 400
        except services.ModelUnavailable as error:
            context["unavailable"] = str(error)
            status = 503
        except DatabaseError as error:
            # The request could not be audited, so it is not answered either.
            logger.error("form prediction not recorded: database unavailable error=%s", error)
            context["unavailable"] = refusals.render("database_unavailable")
            status = 503
    return render(request, "predictor/predict.html", context, status=status)


def _form_input(request) -> dict:
    raw_input = request.POST.dict()
    raw_input.pop("csrfmiddlewaretoken", None)
    return raw_input


@require_GET
def model_card(request, number: int):
    """Everything about one version, for people: how it was made, how good it is, how it does."""
    try:
        card = services.model_card(number)
    except ModelVersion.DoesNotExist:
        return _error(request, 404, detail=_no_version(number))
    return render(request, "predictor/model_card.html", {"card": card, "version": card.version})


def _no_version(number: int) -> str:
    return gettext("There is no model version v%(number)s.") % {"number": number}


@require_GET
def model_card_plot(request, number: int, plot: str):
    """A plot of a model card, served only if it still matches the checksum retrain recorded."""
    version = ModelVersion.objects.filter(number=number).first()
    try:
        if version is None:
            raise services.ModelUnavailable(_no_version(number))
        image = services.read_plot(version, plot)
    except services.ModelUnavailable as error:
        return _error(request, 404, detail=str(error))
    response = HttpResponse(image, content_type="image/png")
    # A version's plots never change: the checksum in its row pins them.
    patch_cache_control(response, public=True, max_age=86400, immutable=True)
    return response


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico on their own, on every page that names no icon (the admin's,
    the API's): the site's icon, rather than a 404 in each console (issue 22 §6)."""
    return redirect(static("img/favicon.svg"))


@never_cache
@require_GET
def healthz(request):
    """Ready means able to answer: the database answers and the active model loads verified."""
    try:
        version = services.active_version()
        if version is None:
            raise services.no_active_model()
        services.load_predictor(version)
    except DatabaseError as error:
        logger.error("health check: database unavailable error=%s", error)
        return JsonResponse(
            {"status": "unavailable", "detail": refusals.render("database_unavailable")}, status=503
        )
    except services.ModelUnavailable as error:
        return JsonResponse({"status": "unavailable", "detail": str(error)}, status=503)
    return JsonResponse({"status": "ok", "model_version": version.label})


@never_cache
@require_GET
def metrics_page(request):
    """Prometheus's scrape: every worker's counts. Only for the addresses or the token that
    settings allow (VIEWSITE_METRICS_*); everyone else is refused."""
    if not metrics.scrape_allowed(request):
        raise PermissionDenied
    return HttpResponse(metrics.exposition(), content_type=metrics.CONTENT_TYPE)


def csrf_failure(request, reason=""):
    """A form post without a valid CSRF token: refused with 403, and audited like any refusal."""
    if request.method == "POST" and request.path == reverse("predictor:predict"):
        refusal = Refusal("csrf", {"reason": reason})
        _record_refusal(request, Channel.FORM, _form_input(request), refusal, "csrf", reason="csrf")
    return render(request, "403_csrf.html", {"reason": reason}, status=403)


def _record_refusal(
    request, channel: Channel, raw_input, refusal: Refusal, key: str, *, reason: str
) -> None:
    """Audit a request refused before any view could (CSRF, an oversized body); the refusal
    stands even if the database cannot record it."""
    info = services.RequestInfo.from_request(request, channel=channel)
    try:
        services.record_refusal(
            raw_inputs=[raw_input], errors=[{key: [refusal]}], info=info, reason=reason
        )
    except DatabaseError as error:
        logger.error("refusal not recorded: database unavailable error=%s", error)


# --- Error pages ----------------------------------------------------------------------------------
# Outside DEBUG nothing internal ever reaches a client: API paths get the API's JSON envelope, pages
# get a plain page. Django calls these for errors raised outside DRF's own handling (an unknown
# URL, a disallowed Host, an oversized form body, a crash).

_ERRORS = {
    400: ("bad_request", _("The request could not be understood.")),
    403: ("permission_denied", _("You are not allowed to do this.")),
    404: ("not_found", _("There is nothing here.")),
    413: ("body_too_large", _("The request body is too large.")),
    500: ("server_error", _("Something went wrong on our side. It has been logged.")),
}


def _error(request, status: int, *, detail=None, path: str | None = None):
    """The error page for `path` (the request's own by default): JSON under the API's root."""
    code, default_detail = _ERRORS[status]
    detail = detail or default_detail
    if (path or request.path).startswith(reverse("predictor:api-root")):
        return JsonResponse(error_body(detail, code), status=status)
    return render(request, "error.html", {"status": status, "detail": detail}, status=status)


def bad_request(request, exception):
    if isinstance(exception, RequestDataTooBig):
        return _refuse_oversized_form(request)
    return _error(request, 400)


def permission_denied(request, exception):
    return _error(request, 403)


def page_not_found(request, exception):
    return _error(request, 404)


def server_error(request):
    return _error(request, 500)


def _refuse_oversized_form(request):
    """A form post over the size limit, refused while reading it (before the view)."""
    return _refuse_oversized(
        request, path=request.path, content_length=request.META.get("CONTENT_LENGTH", "")
    )


@csrf_exempt
@require_POST
def refused_by_proxy(request):
    """nginx refused a body over its size limit before any of it was read; it tells us here so
    that the refusal is audited like any other. Clients cannot reach /internal/ (nginx 404s it)."""
    if request.headers.get("X-Viewsite-Refused") != "body_too_large":
        return _error(request, 404)
    return _refuse_oversized(
        request,
        path=urlsplit(request.headers.get("X-Original-URI", "")).path,
        content_length=request.headers.get("X-Original-Content-Length", ""),
    )


def _refuse_oversized(request, *, path: str, content_length: str):
    refusal = body_too_large()
    channels = {
        reverse("predictor:predict"): Channel.FORM,
        reverse("predictor:prediction-create"): Channel.API,
        reverse("predictor:prediction-preview"): Channel.PREVIEW,
    }
    if request.method == "POST" and path in channels:
        _record_refusal(
            request,
            channels[path],
            {"content_length": content_length},
            refusal,
            "request",
            reason="body_too_large",
        )
    return _error(request, 413, detail=str(refusal), path=path)
