"""A real gunicorn serving this project, for tests that need separate worker processes.

It runs against the test database and the test's artifact folder, binds to a free loopback port,
and is always stopped by the fixture that started it.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(
    *,
    artifact_root: Path,
    static_root: Path,
    workers: int = 2,
    timeout: float = 30.0,
    database: str | None = None,
):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database or database_url(),
        "VIEWSITE_ARTIFACT_ROOT": str(artifact_root),
        "DJANGO_STATIC_ROOT": str(static_root),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_DEBUG": "false",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "viewsite.wsgi:application",
        f"--workers={workers}",
        f"--bind=127.0.0.1:{port}",
        "--graceful-timeout=5",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(base_url, process, timeout)
        yield base_url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(base_url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace")
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{output}")
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # serving, if not healthy: some tests want exactly that
        except OSError:  # refused, reset or timed out while the workers boot
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer /healthz within {timeout} s")


def post_json(url: str, body) -> tuple[int, dict]:
    return request_json(url, body)


def request_json(url: str, body=None) -> tuple[int, dict]:
    """GET (no body) or POST JSON; returns the status and the decoded JSON answer."""
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
