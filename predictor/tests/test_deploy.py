"""The deployment end to end: browser -> nginx (TLS) -> gunicorn -> Django, with the real programs.

Run by `make e2e`. Everything goes through nginx unless a test says otherwise.
"""

import json
import re
import sqlite3
import threading
import urllib.parse
import uuid

import psycopg
import pytest

from . import deployment, live

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

    artifact = next((site.var_dir / "artifacts").glob("*.joblib")).name
    for path in (
        f"/var/artifacts/{artifact}",
        f"/artifacts/{artifact}",
        f"/static/../var/artifacts/{artifact}",
        "/var/viewsite.sqlite3",
        "/viewsite.sqlite3",
        "/static/../var/viewsite.sqlite3",
        "/.env",
    ):
        status, _, body = browser.request(path)
        assert status in (400, 403, 404), path
        assert b"SQLite format" not in body
        assert b"sklearn" not in body


def test_two_app_hosts_follow_one_retrain_and_one_rollback_with_no_failed_request(tmp_path):
    """Scale-out: two gunicorn instances on one PostgreSQL and one artifact store, one nginx."""
    name = f"viewsite_scaleout_{uuid.uuid4().hex[:12]}"
    admin_url = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        _scale_out(tmp_path, f"postgres://postgres@127.0.0.1:5432/{name}")
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _scale_out(tmp_path, database_url):
    ports = [live.free_port(), live.free_port()]
    site = deployment.make_site(tmp_path, database_url=database_url, upstream_ports=ports)
    deployment.manage(site, "migrate", "--noinput")  # once, for all hosts
    deployment.manage(site, "collectstatic", "--noinput")
    deployment.manage(site, "retrain")
    env = deployment.process_env(site)
    direct = [f"http://127.0.0.1:{port}/api/predictions/" for port in ports]
    through_nginx = f"{site.base_url}/api/predictions/"
    browser = deployment.Browser(site)

    def predict(url):
        if url.startswith("https"):
            status, _, body = browser.request(
                "/api/predictions/",
                data=b'{"likes": 10, "shares": 5}',
                headers={"Content-Type": "application/json"},
            )
            return status, json.loads(body).get("model_version")
        # Straight to one host, with the headers nginx would add to it.
        status, body = live.request_json(
            url, {"likes": 10, "shares": 5}, {"Host": "localhost", "X-Forwarded-Proto": "https"}
        )
        return status, body.get("model_version")

    with (
        live.gunicorn_process(env, port=ports[0], log_path=tmp_path / "host-a.log"),
        live.gunicorn_process(env, port=ports[1], log_path=tmp_path / "host-b.log"),
        deployment.nginx(site),
    ):
        background = {0: [], 1: []}
        stop = threading.Event()

        def keep_asking(mine):
            while not stop.is_set():
                mine.append(predict(through_nginx))

        threads = [threading.Thread(target=keep_asking, args=(background[i],)) for i in background]
        for thread in threads:
            thread.start()
        try:
            assert [predict(url) for url in direct] == [(201, "v1"), (201, "v1")]
            deployment.manage(site, "retrain")
            after_retrain = [predict(url) for url in direct * 5 + [through_nginx] * 10]
            deployment.manage(site, "activate", "v1")
            after_rollback = [predict(url) for url in direct * 5 + [through_nginx] * 10]
        finally:
            stop.set()
            for thread in threads:
                thread.join()

    assert after_retrain == [(201, "v2")] * 20
    assert after_rollback == [(201, "v1")] * 20
    for answers in background.values():
        assert {status for status, _ in answers} == {201}
        versions = [version for _, version in answers]
        assert [v for i, v in enumerate(versions) if i == 0 or versions[i - 1] != v] == [
            "v1",
            "v2",
            "v1",
        ]
    # Both hosts answered through nginx.
    assert "POST" in (tmp_path / "host-a.log").read_text()
    assert "POST" in (tmp_path / "host-b.log").read_text()
    with psycopg.connect(database_url.replace("postgres://", "postgresql://")) as db:
        [(rows,)] = db.execute("SELECT count(*) FROM predictor_predictionrequest").fetchall()
    sent = 2 + 40 + sum(len(answers) for answers in background.values())
    assert rows == sent


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
