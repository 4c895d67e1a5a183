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
from django.db import connection

ROOT = Path(settings.BASE_DIR)
# How long a server's workers may go on answering with the version they last read as active:
# VIEWSITE_ACTIVE_VERSION_MAX_AGE, production's default, which every server of the tests runs with.
ACTIVATION_BOUND = 1.0


def wait_for_activation() -> None:
    """Let a version activated by this process reach a server's workers, which ask within the
    bound (services/registry.py)."""
    time.sleep(ACTIVATION_BOUND)


def database_url() -> str:
    db = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
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
    database: str | None = None,
    graceful_timeout: int = 5,
):
    """gunicorn on this test's database and artifact folder; yields its base URL."""
    env = app_env(artifact_root=artifact_root, static_root=static_root, workers=workers)
    env["GUNICORN_GRACEFUL_TIMEOUT"] = str(graceful_timeout)
    if database:
        env["DATABASE_URL"] = database
    with gunicorn_process(env, log_path=artifact_root.parent / "gunicorn.log") as (base_url, _):
        yield base_url


def app_env(*, artifact_root: Path, static_root: Path, workers: int = 2) -> dict:
    """The environment of an app server on this test's database and artifact folder."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "VIEWSITE_ARTIFACT_ROOT": str(artifact_root),
        "DJANGO_STATIC_ROOT": str(static_root),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_DEBUG": "false",
        "GUNICORN_WORKERS": str(workers),
        # These tests send more than a client's allowance on purpose; rate limits have their own.
        "VIEWSITE_THROTTLE_ANON_RATE": "1000000/minute",
        "VIEWSITE_THROTTLE_USER_RATE": "1000000/minute",
        "VIEWSITE_THROTTLE_PREVIEW_RATE": "1000000/minute",
    }


@contextmanager
def gunicorn_process(
    env: dict,
    *,
    log_path: Path,
    port: int | None = None,
    timeout: float = 30.0,
    address: str = "127.0.0.1",
    wrap=lambda command: command,
):
    """gunicorn with the deployment's own configuration (deploy/gunicorn.conf.py), bound to
    `address`; `wrap` may prefix its command (to run it in a network namespace, netns.py).

    Yields (base URL, process); its access and error log go to `log_path`. Always stopped.
    """
    port = port or free_port()
    env = {
        "GUNICORN_GRACEFUL_TIMEOUT": "5",
        **env,
        "GUNICORN_BIND": f"{address}:{port}",
        # Off by default in production (nginx logs each request); tests count requests in it.
        "GUNICORN_ACCESS_LOG": "-",
    }
    command = wrap(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config=deploy/gunicorn.conf.py",
            "viewsite.wsgi:application",
        ]
    )
    base_url = f"http://{address}:{port}"
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_serving(base_url, process, timeout, log_path)
        yield base_url, process
    finally:
        stop(process)


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(
    base_url: str, process: subprocess.Popen, timeout: float, log_path: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log_path.read_text(errors="replace")
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


def request_json(url: str, body=None, headers=None) -> tuple[int, dict]:
    """GET (no body) or POST JSON; returns the status and the decoded JSON answer."""
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            **(headers or {}),
        },
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
