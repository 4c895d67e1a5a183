"""Counts every HTTP request for /metrics: by door and status, and how long Django took.

First in MIDDLEWARE, so its time covers the other middleware too, and every answer is counted:
Django turns an exception into a response before it reaches here.
"""

import time

from . import metrics


class RequestMetricsMiddleware:
    """Kept over django-prometheus: it labels by view and method, not by door (bench/README.md)."""

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
