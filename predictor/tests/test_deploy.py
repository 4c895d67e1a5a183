"""The deployment end to end: browser -> nginx (TLS) -> gunicorn -> Django, with the real programs.

Run by `make e2e`. Everything goes through nginx unless a test says otherwise. Scale-out, two
app hosts that share nothing but the database, is test_deploy_hosts.py.
"""

import json
import re
import sqlite3
import urllib.parse

import pytest

from . import deployment

pytestmark = pytest.mark.deploy


@pytest.fixture
def site(tmp_path):
    with deployment.running_site(tmp_path) as site:
        yield site


def audit_rows(site):
    with sqlite3.connect(site.var_dir / "viewsite.sqlite3") as db:
        return db.execute(
            "SELECT channel, accepted, client_ip, likes, shares, views"
            " FROM predictor_predictionrequest ORDER BY id"
        ).fetchall()


def test_the_form_loads_with_its_css_from_nginx_and_predicts_with_its_csrf_token(site):
    browser = deployment.Browser(site)
    status, headers, body = browser.request("/")
    page = body.decode()
    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    stylesheet = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', page).group(1)

    css_status, css_headers, css = browser.request(stylesheet)
    assert css_status == 200
    assert b".result-value" in css
    assert css_headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert css_headers["Content-Type"] == "text/css"
    # nginx served it: gunicorn never saw a request for it.
    assert "/static/" not in (site.root / "gunicorn.log").read_text()

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"likes": 500, "shares": 300, "csrfmiddlewaretoken": token})
    status, _, body = browser.request(
        "/", data=form.encode(), headers={"Referer": f"{site.base_url}/"}
    )
    assert status == 200
    assert 'class="result-value"' in body.decode()
    assert audit_rows(site)[-1][:2] == ("form", 1)


def test_the_api_predicts_and_the_audit_row_has_the_client_ip_nginx_passed_on(site):
    browser = deployment.Browser(site)
    status, headers, body = browser.request(
        "/api/predictions/",
        data=json.dumps({"likes": 500, "shares": 300}).encode(),
        # A client cannot choose the address recorded for it: nginx appends the one it saw.
        headers={"Content-Type": "application/json", "X-Forwarded-For": "203.0.113.66"},
    )
    assert status == 201
    answer = json.loads(body)
    assert answer["model_version"] == "v1"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])
    assert audit_rows(site) == [("api", 1, "127.0.0.1", 500, 300, answer["views"])]


def test_health_redirects_size_limit_and_private_files(site):
    browser = deployment.Browser(site)
    status, _, body = browser.request("/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok", "model_version": "v1"})

    status, headers, _ = browser.request("/", url=f"http://localhost:{site.http_port}/?a=1")
    assert status == 301
    assert headers["Location"] == f"{site.base_url}/?a=1"

    limit = int(site.env["DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE"])
    status, _, body = browser.request(
        "/api/predictions/", data=b" " * (limit + 1), headers={"Content-Type": "application/json"}
    )
    assert status == 413
    assert json.loads(body)["code"] == "body_too_large"
    # nginx refused it unread, and still it is in the audit trail, from the right client.
    assert audit_rows(site)[-1][:3] == ("api", 0, "127.0.0.1")
    for language, says in (("", "字节的上限"), ("en", "larger than the limit")):
        # The site's default language is Chinese; a browser asking for English reads English.
        status, headers, body = browser.request(
            "/",
            data=b"likes=" + b"1" * limit,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                **({"Accept-Language": language} if language else {}),
            },
        )
        assert (status, headers["Content-Type"]) == (413, "text/html; charset=utf-8")
        assert says in body.decode()
        assert audit_rows(site)[-1][:2] == ("form", 0)
    # Only nginx may report a refusal.
    status, _, _ = browser.request("/internal/refused/body-too-large", data=b"")
    assert status == 404

    # The model's artifacts are rows of the database, never files a proxy could serve.
    assert not (site.var_dir / "artifacts").exists()
    for path in (
        "/var/viewsite.sqlite3",
        "/viewsite.sqlite3",
        "/static/../var/viewsite.sqlite3",
        "/.env",
    ):
        status, _, body = browser.request(path)
        assert status in (400, 403, 404), path
        assert b"SQLite format" not in body
        assert b"sklearn" not in body


def test_check_deploy_finds_no_issue_in_the_documented_production_environment(tmp_path):
    site = deployment.make_site(tmp_path, upstream_ports=[8000])
    result = deployment.manage(site, "check", "--deploy", "--fail-level", "WARNING")
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_both_rate_limits_hold_and_a_forged_x_forwarded_for_dodges_neither(tmp_path):
    # Django allows 5 a minute per client (counted on Redis); nginx 1 a second with a burst of 10.
    with deployment.running_site(
        tmp_path,
        VIEWSITE_THROTTLE_ANON_RATE="5/minute",
        VIEWSITE_NGINX_RATE="1r/s",
        VIEWSITE_NGINX_BURST="10",
    ) as site:
        browser = deployment.Browser(site)
        answers = []
        for n in range(25):
            status, _, body = browser.request(
                "/api/predictions/",
                data=b'{"likes": 1, "shares": 2}',
                headers={"Content-Type": "application/json", "X-Forwarded-For": f"10.9.8.{n}"},
            )
            answers.append((status, json.loads(body).get("code")))

    codes = [code if status == 429 else status for status, code in answers]
    assert codes[:5] == [201] * 5
    assert set(codes[5:]) == {"throttled", "rate_limited"}
    # Django refused what nginx let through beyond the fifth; nginx refused the rest outright.
    first_nginx_refusal = codes.index("rate_limited")
    assert set(codes[5:first_nginx_refusal]) == {"throttled"}
    rows = audit_rows(site)
    assert len(rows) == 5
    assert {client_ip for _, _, client_ip, *_ in rows} == {"127.0.0.1"}
    with sqlite3.connect(site.var_dir / "viewsite.sqlite3") as db:
        [(scope, client, count)] = db.execute(
            "SELECT scope, client, count FROM predictor_throttledrequestcount"
        ).fetchall()
    assert (scope, client) == ("anon", "127.0.0.1")
    assert 1 <= count <= codes.count("throttled")
