import gc
import os
import re
import runpy
import subprocess
import sys
from types import SimpleNamespace

from django.conf import settings
from django.db import connection

ROOT = settings.BASE_DIR


def run_settings(env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VIEWSITE_"))}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings as s; print(s.DEBUG)",
        ],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "viewsite.settings", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_without_a_secret_key_production_refuses_to_start():
    result = run_settings({})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_is_off_unless_asked_for():
    assert run_settings({"DJANGO_SECRET_KEY": "x" * 50}).stdout.strip() == "False"
    assert run_settings({"DJANGO_DEBUG": "true"}).stdout.strip() == "True"


def test_every_environment_variable_is_documented_in_the_example_env_file():
    settings_source = (ROOT / "viewsite" / "settings.py").read_text()
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z0-9_]+)"', settings_source))
    for path in (ROOT / "deploy" / "gunicorn.conf.py", ROOT / "deploy" / "render.py"):
        read |= set(
            re.findall(r'(?:_env_int|environ\.get|get)\(\s*"([A-Z0-9_]+)"', path.read_text())
        )
    example = (ROOT / "deploy" / "viewsite.env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", example, flags=re.MULTILINE))
    assert read
    assert read <= documented, f"undocumented: {sorted(read - documented)}"


def test_the_database_is_configured_for_several_workers_writing_at_once(db):
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 1  # NORMAL
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone()[0] == 20_000
        assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    else:
        # Index lookups priced for SSDs (viewsite/settings.py says why).
        with connection.cursor() as cursor:
            cursor.execute("SHOW random_page_cost")
            assert cursor.fetchone()[0] == "1.1"
    assert connection.settings_dict["CONN_MAX_AGE"] > 0
    # No round trip before each request's first query; a broken connection is replaced after the
    # one request it fails (test_chaos.py's database outage).
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is False


PROBE = """
import django; django.setup()
from django.test import Client
client = Client(HTTP_HOST="127.0.0.1")
html = "text/html,application/xhtml+xml,*/*;q=0.8"
api = client.get("/api/predictions/history/", HTTP_ACCEPT=html)
print("PROBE", api.status_code, api["Content-Type"], client.get("/api/schema/").status_code)
"""


def run_probe(static_root, script: str = PROBE, **env) -> str:
    """Run `script` in a fresh process with the production settings and `env` on top (settings
    are read once per process), and return what it printed after "PROBE "."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VIEWSITE_"))}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "viewsite.settings",
            "DJANGO_SECRET_KEY": "x" * 50,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_HTTPS": "false",
            "DJANGO_STATIC_ROOT": str(static_root),
            **env,
        },
        capture_output=True,
        text=True,
        check=True,
    )
    [line] = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    return line.removeprefix("PROBE ")


def test_the_browsable_api_and_the_schema_can_be_switched_off(collected_static):
    assert run_probe(collected_static) == "401 text/html; charset=utf-8 200"
    switched_off = run_probe(
        collected_static, VIEWSITE_BROWSABLE_API="false", VIEWSITE_API_SCHEMA="false"
    )
    assert switched_off == "401 application/json 404"


def test_an_activation_may_not_take_longer_than_a_second_to_reach_every_worker():
    base = {"DJANGO_SECRET_KEY": "x" * 50}
    assert run_settings({**base, "VIEWSITE_ACTIVE_VERSION_MAX_AGE": "0.5"}).returncode == 0
    refused = run_settings({**base, "VIEWSITE_ACTIVE_VERSION_MAX_AGE": "5"})
    assert refused.returncode != 0
    assert "VIEWSITE_ACTIVE_VERSION_MAX_AGE must be between 0 and 1" in refused.stderr


STATIC_PROBE = """
import django; django.setup()
from django.templatetags.static import static
from django.test import Client
response = Client(HTTP_HOST="127.0.0.1").get(static("css/site.css"))
print("PROBE", response.status_code)
"""


def test_django_serves_static_files_unless_the_deployment_leaves_them_to_nginx(collected_static):
    assert run_probe(collected_static, STATIC_PROBE) == "200"
    # The deployment's nginx serves /static/ (deploy/nginx), so no worker looks each request up.
    example = (ROOT / "deploy" / "viewsite.env.example").read_text()
    assert "\nVIEWSITE_SERVE_STATIC=false\n" in example
    assert run_probe(collected_static, STATIC_PROBE, VIEWSITE_SERVE_STATIC="false") == "404"


def test_a_gunicorn_worker_freezes_what_it_loaded_before_it_answers():
    # In a process of its own: a frozen test process would never collect its garbage again.
    code = (
        "import gc, runpy\n"
        "config = runpy.run_path('deploy/gunicorn.conf.py')\n"
        "before = gc.get_freeze_count()\n"
        "config['post_worker_init'](None)\n"
        "print(before, gc.get_freeze_count())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    before, after = map(int, result.stdout.split())
    assert before == 0
    assert after > 1000


def test_a_gunicorn_worker_collects_garbage_before_a_large_body_only():
    config = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))

    def full_collections() -> int:
        return gc.get_stats()[2]["collections"]

    # What the hook reads of gunicorn's request: its headers, as gunicorn gives them.
    batch = SimpleNamespace(headers=[("HOST", "x"), ("CONTENT-LENGTH", "350000")])
    before = full_collections()
    config["pre_request"](None, batch)
    assert full_collections() == before + 1
    single = SimpleNamespace(headers=[("CONTENT-LENGTH", "30")])
    before = full_collections()
    config["pre_request"](None, single)
    assert full_collections() == before
