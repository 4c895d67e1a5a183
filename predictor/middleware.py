"""viewsite's middleware: request metrics, and the Content-Security-Policy on pages only."""

import time

from csp.middleware import CSPMiddleware

from . import metrics


class RequestMetricsMiddleware:
    """Counts every HTTP request for /metrics: by door and status, and how long Django took.

    First in MIDDLEWARE, so its time covers the other middleware too, and every answer is counted:
    Django turns an exception into a response before it reaches here.

    Kept over django-prometheus: it labels by view and method, not by door (bench/README.md)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        metrics.request_answered(
            door=metrics.door_of(request.path_info),
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response


class PagePolicyMiddleware(CSPMiddleware):
    """django-csp's policy, on HTML responses only.

    A policy governs what a document may load and run; a JSON answer, an image or a file is no
    document, and a browser ignores the header there. django-csp builds the policy for every
    response (about 0.05 ms), so the API's JSON answers skip it; the pages, the browsable API and
    the docs pages keep it, with every decorator's changes (bench/README.md).
    """

    def process_response(self, request, response):
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        return super().process_response(request, response)
