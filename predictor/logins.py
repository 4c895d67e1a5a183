"""The admin's login lockout page (django-axes calls `lockout_response`).

Axes counts failed logins per user name and address and refuses the next ones for a cool-off
period. Its own page says only that the account is locked; people need to know until when, so
this page names the user and the time the lockout ends, counted from the last refused attempt.
"""

from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.contrib import admin
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from .clients import client_ip


def lockout_response(request, original_response=None, credentials=None):
    username = get_client_username(request, credentials) or ""
    cool_off = get_cool_off(request)
    last_attempt = (
        AccessAttempt.objects.filter(username=username, ip_address=client_ip(request))
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)
        .first()
    )
    locked_until = (last_attempt or timezone.now()) + cool_off if cool_off else None
    return render(
        request,
        "admin/lockout.html",
        {
            **admin.site.each_context(request),
            "title": _("Too many failed logins"),
            "username": username,
            "failure_limit": get_failure_limit(request, credentials),
            "locked_until": locked_until,
        },
        status=429,
    )
