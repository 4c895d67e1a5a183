"""django-csp's middleware, building each distinct policy once per process instead of per response.

django-csp turns the CONTENT_SECURITY_POLICY setting (and a view's csp_update) into the header
string on every response, twice (the policy and the report-only one): about 0.1 ms, a tenth of
a whole API request once the rest was made lean. The string only depends on the settings, on
the view's decorator and on a nonce; viewsite uses no nonce, and a view's decorator holds the
same dict for the life of the process. So the string is cached by those inputs, and the cache
is emptied when a CSP setting changes (tests do that). A response with a nonce is built afresh.
"""

from dataclasses import asdict

from csp import middleware as csp_middleware
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# (report_only, ids of config, update and replace) -> (the header, and the dicts themselves,
# kept so that their ids cannot be reused by other objects while they are keys here).
_policies: dict[tuple, tuple] = {}


def _policy(parts, *, report_only: bool) -> str:
    if parts.nonce is not None:
        return build_policy(**asdict(parts), report_only=report_only)
    key = (report_only, id(parts.config), id(parts.update), id(parts.replace))
    cached = _policies.get(key)
    if cached is None:
        header = build_policy(**asdict(parts), report_only=report_only)
        cached = _policies[key] = (header, parts.config, parts.update, parts.replace)
    return cached[0]


@receiver(setting_changed)
def _forget_policies(*, setting, **kwargs):
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _policies.clear()


class CSPMiddleware(csp_middleware.CSPMiddleware):
    """`csp.middleware.CSPMiddleware.process_response` (django-csp 4.0), reading the cache."""

    def process_response(self, request, response):
        if response.status_code in (500, 404) and settings.DEBUG:
            return response  # Django's debug pages carry inline script and style
        for report_only, header, exempt, setting in (
            (False, HEADER, "_csp_exempt", "CONTENT_SECURITY_POLICY"),
            (True, HEADER_REPORT_ONLY, "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        ):
            parts = self.get_policy_parts(request, response, report_only=report_only)
            policy = _policy(parts, report_only=report_only)
            excluded = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
            if (
                policy
                and header not in response
                and getattr(response, exempt, False) is False
                and not request.path_info.startswith(tuple(excluded))
            ):
                response[header] = policy
        if getattr(request, "_csp_nonce", None) is None:
            # As the library does: a nonce asked for after the header was written is an error.
            request.csp_nonce = csp_middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response
