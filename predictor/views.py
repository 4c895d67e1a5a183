"""HTML pages and the health check. Each is a door into predictor.services."""

import logging
import time

from django.db import DatabaseError
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from . import services
from .forms import PredictionForm

logger = logging.getLogger(__name__)


@require_http_methods(["GET", "POST"])
def predict_page(request):
    started = time.perf_counter()
    form = PredictionForm(request.POST or None)
    context = {"form": form}
    status = 200
    if request.method == "POST":
        info = services.RequestInfo.from_request(request, channel="form", started=started)
        raw_input = request.POST.dict()
        raw_input.pop("csrfmiddlewaretoken", None)
        try:
            if form.is_valid():
                [context["record"]] = services.predict(
                    inputs=[form.cleaned_data], raw_inputs=[raw_input], info=info
                )
            else:
                services.record_rejection(
                    raw_inputs=[raw_input], errors=[form.errors.get_json_data()], info=info
                )
                status = 400
        except services.ModelUnavailable as error:
            context["unavailable"] = str(error)
            status = 503
        except DatabaseError as error:
            # The request could not be audited, so it is not answered either.
            logger.error("form prediction not recorded: database unavailable error=%s", error)
            context["unavailable"] = "The database is unavailable. Please try again shortly."
            status = 503
    return render(request, "predictor/predict.html", context, status=status)


@never_cache
@require_GET
def healthz(request):
    try:
        version = services.active_version()
    except DatabaseError as error:
        logger.error("health check: database unavailable error=%s", error)
        return JsonResponse(
            {"status": "unavailable", "detail": "The database is unreachable."}, status=503
        )
    if version is None:
        return JsonResponse(
            {"status": "unavailable", "detail": "No model is active. Run `manage.py retrain`."},
            status=503,
        )
    return JsonResponse({"status": "ok", "model_version": version.label})


def csrf_failure(request, reason=""):
    """A form post without a valid CSRF token: refused with 403, and audited like any refusal."""
    if request.method == "POST" and request.path == reverse("predictor:predict"):
        raw_input = request.POST.dict()
        raw_input.pop("csrfmiddlewaretoken", None)
        info = services.RequestInfo.from_request(request, channel="form")
        try:
            services.record_rejection(
                raw_inputs=[raw_input],
                errors=[{"csrf": [f"CSRF check failed: {reason}"]}],
                info=info,
            )
        except DatabaseError as error:
            logger.error("CSRF refusal not recorded: database unavailable error=%s", error)
    return render(request, "403_csrf.html", {"reason": reason}, status=403)
