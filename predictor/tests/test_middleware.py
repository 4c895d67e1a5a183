"""viewsite.middleware: the CSP header, built once per distinct policy, is the library's own."""

from csp.utils import build_policy
from django.urls import reverse


def test_each_page_gets_the_policy_django_csp_would_build(client, db, settings):
    form = client.get(reverse("predictor:predict"))
    api = client.get(reverse("predictor:model-list"), HTTP_ACCEPT="text/html")

    assert form["Content-Security-Policy"] == build_policy()
    assert api["Content-Security-Policy"] == build_policy(update={"style-src": ["'unsafe-inline'"]})
    assert "'unsafe-inline'" not in form["Content-Security-Policy"]
    assert "Content-Security-Policy-Report-Only" not in form


def test_a_changed_setting_changes_the_header(client, db, settings):
    before = client.get(reverse("predictor:predict"))["Content-Security-Policy"]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"img-src": ["'self'"]}}

    after = client.get(reverse("predictor:predict"))

    assert before != after["Content-Security-Policy"] == "default-src 'none'"
    assert after["Content-Security-Policy-Report-Only"] == build_policy(report_only=True)
    assert "img-src 'self'" in after["Content-Security-Policy-Report-Only"]
