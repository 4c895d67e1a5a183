"""The deployment as deploy/README.md builds it, on loopback ports and temporary folders.

The environment is deploy/viewsite.env.example (the documented production environment) with only
paths, ports, hosts and the secret changed; nginx runs the site file rendered from
deploy/nginx/viewsite.conf.template by deploy/render.py; gunicorn runs deploy/gunicorn.conf.py.
`app_host` gives one of several app hosts its own folders (netns.py gives it its own network).
"""

import dataclasses
import importlib.util
import os
import resource
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .live import ROOT, free_port, gunicorn_process, stop

DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _render_module():
    spec = importlib.util.spec_from_file_location("deploy_render", DEPLOY / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render = _render_module()


@dataclass
class Site:
    """One deployment's folders, ports and environment."""

    root: Path
    https_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    env: dict = field(default_factory=dict)
    gunicorn: subprocess.Popen | None = None
    # What manage.py runs under: e.g. `ip netns exec <namespace>` for an app host of its own.
    command_prefix: tuple[str, ...] = ()

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.https_port}"

    @property
    def var_dir(self) -> Path:
        return self.root / "var"

    @property
    def certificate(self) -> Path:
        return self.root / "tls" / "fullchain.pem"

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.certificate))


def make_site(root: Path, *, database_url: str = "", upstream_ports=(), **overrides) -> Site:
    site = Site(root=root)
    env = render.read_env_file(DEPLOY / "viewsite.env.example")
    from predictor.services.signing import generate_key_pair

    # The site's own pair: its retrain signs with the private key, its hosts verify with the public.
    signing_key, verify_key = generate_key_pair()
    env.update(
        {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "VIEWSITE_ARTIFACT_SIGNING_KEY": signing_key,
            "VIEWSITE_ARTIFACT_VERIFY_KEYS": verify_key,
            "DJANGO_ALLOWED_HOSTS": "localhost",
            "DJANGO_CSRF_TRUSTED_ORIGINS": site.base_url,
            "DJANGO_STATIC_ROOT": str(root / "staticfiles"),
            "DATABASE_URL": database_url,
            "VIEWSITE_VAR_DIR": str(site.var_dir),
            "VIEWSITE_ARTIFACT_ROOT": str(site.var_dir / "artifacts"),
            "MPLCONFIGDIR": str(site.var_dir / "matplotlib"),
            "VIEWSITE_DEFAULT_DATA": str(ROOT / "data" / "wechat_articles_sample.csv"),
            "VIEWSITE_SERVER_NAME": "localhost",
            "VIEWSITE_HTTP_LISTEN": f"127.0.0.1:{site.http_port}",
            "VIEWSITE_HTTPS_LISTEN": f"127.0.0.1:{site.https_port}",
            "VIEWSITE_UPSTREAMS": ",".join(f"127.0.0.1:{port}" for port in upstream_ports),
            "VIEWSITE_TLS_CERTIFICATE": str(site.certificate),
            "VIEWSITE_TLS_CERTIFICATE_KEY": str(root / "tls" / "privkey.pem"),
            "VIEWSITE_NGINX_ACCESS_LOG": str(root / "nginx" / "access.log"),
            "GUNICORN_WORKERS": "2",
            # Rate limits are on, on the machine's Redis, in this site's own key space; most
            # tests send far more than a client's allowance, so only the rate-limit tests lower it.
            "VIEWSITE_CACHE_PREFIX": f"viewsite-test-{secrets.token_hex(6)}",
            "VIEWSITE_THROTTLE_ANON_RATE": "1000000/minute",
            "VIEWSITE_THROTTLE_USER_RATE": "1000000/minute",
            "VIEWSITE_NGINX_RATE": "10000r/s",
            "VIEWSITE_NGINX_BURST": "10000",
        }
    )
    env.update(overrides)
    # Empty values mean "the default", as they do in the env file for systemd.
    site.env = {name: value for name, value in env.items() if value != ""}
    (root / "tls").mkdir(parents=True)
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
            "-keyout", str(root / "tls" / "privkey.pem"), "-out", str(site.certificate),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return site


def app_host(site: Site, root: Path, *, command_prefix=(), **overrides) -> Site:
    """One app host of `site`'s deployment, with a disk of its own under `root`.

    The host has the site's environment except for its folders: every path under the site's var
    folder (the default SQLite file, artifacts, matplotlib's cache) and its static files are
    moved under `root`, so that nothing on disk is shared with the site or with another host.
    `command_prefix` is what its manage.py runs under (e.g. `ip netns exec <namespace>`). An
    empty override removes a variable, as an empty value does in the env file (e.g. the signing
    key, on a host that does not retrain).
    """
    moved = {
        str(site.var_dir): str(root / "var"),
        str(site.root / "staticfiles"): str(root / "staticfiles"),
    }
    env = dict(site.env)
    for name, value in env.items():
        for old, new in moved.items():
            if value == old or value.startswith(f"{old}/"):
                env[name] = new + value[len(old) :]
    root.mkdir(parents=True, exist_ok=True)
    return dataclasses.replace(
        site,
        root=root,
        env={name: value for name, value in {**env, **overrides}.items() if value != ""},
        command_prefix=tuple(command_prefix),
        gunicorn=None,
    )


def process_env(site: Site) -> dict:
    """The app's environment: the site's variables over a clean process environment."""
    base = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "VIEWSITE_", "GUNICORN_", "DATABASE_URL"))
    }
    return {**base, **site.env}


def run_manage(site: Site, *args: str, file_size_limit: int | None = None):
    """manage.py in the site's environment; the result, whatever its exit status."""

    def limit_file_size():
        # `ulimit -f`: writes past the limit fail with EFBIG (Python ignores SIGXFSZ).
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.run(
        [*site.command_prefix, sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=process_env(site),
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=limit_file_size if file_size_limit else None,
    )


def kill_manage(site: Site, delay: float, *args: str) -> None:
    """Start manage.py and kill -9 it after `delay` seconds (if it is still running)."""
    process = subprocess.Popen(
        [*site.command_prefix, sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=process_env(site),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    process.kill()
    process.wait()


def manage(site: Site, *args: str) -> subprocess.CompletedProcess:
    result = run_manage(site, *args)
    if result.returncode != 0:
        raise AssertionError(
            f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
    return result


def staff_token(site: Site, username: str = "fuzz-staff") -> str:
    """A staff user with an API token, made with the management commands an operator uses."""
    env = process_env(site) | {"DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(16)}
    subprocess.run(
        [*site.command_prefix, sys.executable, "manage.py", "createsuperuser", "--noinput",
         "--username", username, "--email", f"{username}@example.com"],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )  # fmt: skip
    return manage(site, "drf_create_token", username).stdout.split()[2]


@contextmanager
def nginx(site: Site, timeout: float = 15.0):
    """nginx with the rendered site file, in a prefix of its own; always stopped."""
    prefix = site.root / "nginx"
    prefix.mkdir(exist_ok=True)
    env_file = prefix / "viewsite.env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in site.env.items()))
    site_file = prefix / "viewsite.conf"
    subprocess.run(
        [sys.executable, str(DEPLOY / "render.py"), "nginx", "--env-file", str(env_file),
         "--output", str(site_file)],
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    # The main context Debian's /etc/nginx/nginx.conf would give; the site file is included
    # exactly as rendered. As root, workers run as root so they can read the test's folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(
        f"{user}worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\n"
        "events { worker_connections 256; }\n"
        "http {\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n"
        f"  client_body_temp_path {prefix}/body;\n  proxy_temp_path {prefix}/proxy;\n"
        f"  fastcgi_temp_path {prefix}/fastcgi;\n  uwsgi_temp_path {prefix}/uwsgi;\n"
        f"  scgi_temp_path {prefix}/scgi;\n  include {site_file};\n}}\n"
    )
    command = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(site.https_port, process, timeout, prefix / "error.log")
        yield process
    finally:
        stop(process, signal.SIGQUIT)


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on {port} within {timeout} s")


class Browser:
    """A cookie-keeping HTTPS client that trusts the site's certificate and follows no redirect."""

    def __init__(self, site: Site):
        self.site = site
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=site.tls_context()),
            urllib.request.HTTPCookieProcessor(),
            _NoRedirect(),
        )

    def request(
        self, path: str, *, data: bytes | None = None, headers=None, url: str | None = None
    ):
        """Returns (status, headers, body bytes)."""
        request = urllib.request.Request(
            url or f"{self.site.base_url}{path}", data=data, headers=headers or {}
        )
        try:
            with self.opener.open(request, timeout=15) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@contextmanager
def running_site(tmp_path, *, database_url: str = "", workers: int = 2, **overrides):
    """One app host behind nginx, set up as deploy/README.md says; stopped whatever happens.

    Yields the Site; `site.gunicorn` is the gunicorn master process.
    """
    gunicorn_port = free_port()
    site = make_site(
        tmp_path, database_url=database_url, upstream_ports=[gunicorn_port], **overrides
    )
    site.env["GUNICORN_WORKERS"] = str(workers)
    manage(site, "migrate", "--noinput")
    manage(site, "collectstatic", "--noinput")
    manage(site, "retrain")
    with (
        gunicorn_process(
            process_env(site), port=gunicorn_port, log_path=tmp_path / "gunicorn.log"
        ) as (_, master),
        nginx(site),
    ):
        site.gunicorn = master
        yield site
