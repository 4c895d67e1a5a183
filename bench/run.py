"""`make bench`: viewsite in production configuration against the course's Flask app, same load.

Starts each server in turn on a free loopback port (so they never compete for the cores), checks
that one request really succeeds, loads it with wrk (32 connections, 2 threads, one prediction per
POST; a short warm-up, then N runs, the median run reported), stops it, and prints one table with
the ratio of each server's requests/s to the course app under gunicorn. Then: a batch of 10,000
predictions in one API call, a worker's start-up time, the workers' resident memory, and whether
pandas is loaded in them; `manage.py predict --csv` of a million rows on each database (rows/s,
the command's peak memory, every row audited); and a table of issue 21's targets.

viewsite runs exactly as deployed: gunicorn with deploy/gunicorn.conf.py, the environment of
deploy/viewsite.env.example (DEBUG off, HTTPS on, one trusted proxy) with only paths, ports, hosts,
the secret, the throttle rates and REDIS_URL (a private redis-server, so that no other Redis
user shares its rate-limit keys) changed. The course app and the floor run under gunicorn with
the workers that configuration resolves to (count, class, threads), so every ratio compares the
same number of processes. The benchmark talks straight to gunicorn, so it sends the headers nginx
would add (X-Forwarded-Proto, X-Forwarded-For, Connection: close). The baseline is
bench/course_app.py. Everything lives in a temporary folder and a throwaway PostgreSQL database,
and every process started here is stopped, whatever happens. Standard library and psycopg only.

    .venv/bin/python bench/run.py [--duration 8] [--runs 3] [--skip-postgres] [--quick] [--keep]
"""

import argparse
import http.client
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable  # the project's virtualenv when run by `make bench`
DATA = ROOT / "data" / "wechat_articles_sample.csv"
CONNECTIONS = 32
THREADS = 2
BATCH_SIZE = 10_000
CSV_ROWS = 1_000_000
ONE = {"likes": 500, "shares": 300}
# Far above anything 32 connections can send in a minute: throttling stays on, counted on every
# request in production's one-minute window, but never refuses.
THROTTLE_RATE = "1000000/minute"
# What nginx adds in front of gunicorn (deploy/nginx/viewsite.conf.template); sent to every server.
PROXY_HEADERS = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-For": "127.0.0.1",
    # nginx talks HTTP/1.0 to its upstream (no keepalive in deploy/nginx), so gunicorn sees one
    # connection per request; without this a gthread worker would serve wrk's kept-alive ones.
    "Connection": "close",
    "User-Agent": "viewsite-bench/wrk",
}
COURSE = "course app"
VIEWSITE = "viewsite"
FLOOR = "floor"
FLOOR_AUDIT = f"{FLOOR} (WSGI + audit INSERT)"


@dataclass(frozen=True)
class Workers:
    """How gunicorn runs an app: processes, worker class, threads per process."""

    processes: int
    worker_class: str
    threads: int

    def args(self) -> list[str]:
        return [
            f"--workers={self.processes}",
            f"--worker-class={self.worker_class}",
            f"--threads={self.threads}",
        ]

    def __str__(self) -> str:
        threads = f" x {self.threads} threads" if self.threads > 1 else ""
        return f"{self.processes} {self.worker_class}{threads}"


class BenchError(Exception):
    """Something the benchmark cannot go on without; the message says what and where to look."""


class TimeLimit(BaseException):
    """The whole run took longer than --time-limit."""


# ------------------------------------------------------------------------------------------------
# Processes
# ------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 15 s; then whatever is left of its process group."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # Each server is started in a session of its own, so its group id is its pid: this reaches
    # workers that outlived their master, and nothing else.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass
class Server:
    """A running server: what it is, where it listens, its process and its log."""

    name: str
    database: str
    workers: str  # Workers as text, or "1 (threaded)" for Flask's server
    port: int
    process: subprocess.Popen
    log: Path
    csrf_token: str = ""

    @property
    def origin(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextmanager
def serve(
    command: list[str],
    *,
    env: dict,
    log: Path,
    port: int,
    ready_path: str,
    timeout: float = 60.0,
    **info,
):
    """Start a server, wait until `ready_path` answers 200, yield it, and always stop it."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise BenchError(f"{command[2:]} exited with {process.returncode}; see {log}")
            try:
                if request(port, "GET", ready_path)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"no 200 from {ready_path} within {timeout:.0f} s; see {log}")
            time.sleep(0.02)
        yield Server(port=port, process=process, log=log, **info)
    finally:
        stop(process)


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers=None, timeout=30.0
) -> tuple[int, dict, bytes]:
    """One HTTP request to 127.0.0.1:port, no redirect followed: (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def worker_pids(master: int) -> list[int]:
    """The gunicorn master's child processes (its workers)."""
    children: set[int] = set()
    try:
        for task in Path(f"/proc/{master}/task").iterdir():
            children.update(int(pid) for pid in (task / "children").read_text().split())
        return sorted(children)
    except OSError:  # no /proc/<pid>/task/*/children on this kernel: scan for the parent id
        pass
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            continue
        if fields.get("PPid", "").strip() == str(master):
            children.add(int(status.parent.name))
    return sorted(children)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for process {pid}")


def has_pandas(pid: int) -> bool:
    return "pandas/_libs" in Path(f"/proc/{pid}/maps").read_text()


# ------------------------------------------------------------------------------------------------
# The load: wrk with one Lua script per scenario and server
# ------------------------------------------------------------------------------------------------
LUA = """-- bench/run.py: one prediction per POST; every status >= 300 counts as an error.
wrk.method = "POST"
wrk.body = [==[{body}]==]
{headers}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0; first_bad = "" end
function response(status, headers, body)
  if status >= 300 then
    if bad == 0 then first_bad = tostring(status) end
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local total, first = 0, ""
  for _, t in ipairs(threads) do
    total = total + t:get("bad")
    if first == "" then first = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format("BENCH %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %s\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, total,
    latency:percentile(50), latency:percentile(99), first == "" and "-" or first))
end
"""


@dataclass
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    first_bad_status: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


@dataclass
class Result:
    scenario: str
    server: str
    database: str
    workers: str
    runs: list[Run] = field(default_factory=list)

    @property
    def median(self) -> Run:
        return sorted(self.runs, key=lambda run: run.rps)[(len(self.runs) - 1) // 2]


@dataclass
class Scenario:
    """What one request of the load is, for one server."""

    name: str  # "api" or "form"
    path: str
    content_type: str
    body: str
    headers: dict

    def lua(self, server: Server) -> str:
        headers = {
            "Host": server.origin,
            "Content-Type": self.content_type,
            **PROXY_HEADERS,
            **self.headers,
        }
        lines = "\n".join(f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items())
        return LUA.format(body=self.body, headers=lines)


def api_scenario(server: Server) -> Scenario:
    path = "/api/predictions/" if server.name == VIEWSITE else "/predict"
    return Scenario("api", path, "application/json", json.dumps(ONE), {})


def form_scenario(server: Server) -> Scenario:
    fields = {name: str(value) for name, value in ONE.items()}
    headers = {}
    if server.csrf_token:
        # Django accepts the unmasked 32-character secret from the cookie as the form's token.
        # HTTPS (X-Forwarded-Proto) makes it check the Referer against the host as well.
        fields["csrfmiddlewaretoken"] = server.csrf_token
        headers = {
            "Cookie": f"csrftoken={server.csrf_token}",
            "Referer": f"https://{server.origin}/",
        }
    return Scenario(
        "form", "/", "application/x-www-form-urlencoded", urllib.parse.urlencode(fields), headers
    )


def check(server: Server, scenario: Scenario) -> None:
    """One request exactly as wrk will send it must succeed before any load is measured."""
    headers = {
        "Host": server.origin,
        "Content-Type": scenario.content_type,
        **PROXY_HEADERS,
        **scenario.headers,
    }
    status, response_headers, body = request(
        server.port, "POST", scenario.path, scenario.body.encode(), headers
    )
    expected = 201 if (server.name, scenario.name) == (VIEWSITE, "api") else 200
    if status != expected:
        where = response_headers.get("Location", "")
        raise BenchError(
            f"{server.name} {scenario.name}: POST {scenario.path} answered {status} "
            f"{'to ' + where if where else ''}(expected {expected}): {body[:300]!r}; "
            f"see {server.log}"
        )
    pattern = {
        "api": rb'"views":\s*"?([0-9.]+)',
        "form": rb'data-views="([0-9.]+)"' if server.name == VIEWSITE else rb"views: ([0-9.]+)",
    }[scenario.name]
    found = re.search(pattern, body)
    if not found:
        raise BenchError(f"{server.name} {scenario.name}: no prediction in {body[:300]!r}")
    say(
        f"  {scenario.name:4}  {server.name} {server.database}: POST {scenario.path} answered "
        f"{status}, {float(found[1]):,.2f} views"
    )


def wrk(server: Server, scenario: Scenario, seconds: float, work: Path) -> Run:
    slug = re.sub(r"[^a-z0-9]+", "-", f"{scenario.name} {server.name} {server.database}".lower())
    script = work / f"{slug.strip('-')}.lua"
    script.write_text(scenario.lua(server))
    command = [
        WRK,
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds:g}s",
        "--timeout=5s",
        f"--script={script}",
        f"http://{server.origin}{scenario.path}",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    with (work / "wrk.log").open("a") as log:
        log.write(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}\n")
    lines = [line for line in result.stdout.splitlines() if line.startswith("BENCH ")]
    if result.returncode != 0 or not lines:
        raise BenchError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    fields = lines[-1].split()[1:]
    requests, duration_us, connect, read, write, timeout, bad, p50, p99 = map(int, fields[:9])
    return Run(
        requests=requests,
        seconds=duration_us / 1e6,
        p50_ms=p50 / 1000,
        p99_ms=p99 / 1000,
        errors=connect + read + write + timeout + bad,
        first_bad_status=fields[9],
    )


def load(server: Server, scenario: Scenario, options, work: Path) -> Result:
    check(server, scenario)
    result = Result(scenario.name, server.name, server.database, server.workers)
    warmup = wrk(server, scenario, options.warmup, work)
    say(f"  {scenario.name:4}  {server.name} {server.database}: warm-up {fmt_run(warmup)}")
    for number in range(1, options.runs + 1):
        run = wrk(server, scenario, options.duration, work)
        result.runs.append(run)
        say(f"        run {number}/{options.runs}: {fmt_run(run)}")
    return result


def fmt_run(run: Run) -> str:
    bad = f" (first bad status {run.first_bad_status})" if run.first_bad_status != "-" else ""
    return (
        f"{run.rps:8.1f} req/s  p50 {run.p50_ms:6.1f} ms  p99 {run.p99_ms:7.1f} ms  "
        f"errors {run.errors}{bad}"
    )


# ------------------------------------------------------------------------------------------------
# viewsite's environment, database and model
# ------------------------------------------------------------------------------------------------
def _read_env_file(path: Path) -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("deploy_render", ROOT / "deploy" / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.read_env_file(path)


@dataclass
class Site:
    """One viewsite installation: its state folder and database, sharing the static files."""

    database: str  # "SQLite" or "PostgreSQL"
    var_dir: Path
    database_url: str = ""

    def env(self, options, *, port: int | None = None, workers: int | None = None) -> dict:
        """The production environment (deploy/viewsite.env.example) with this site's paths."""
        values = _read_env_file(ROOT / "deploy" / "viewsite.env.example")
        values.update(
            {
                "DJANGO_SECRET_KEY": options.secret_key,
                "DJANGO_DEBUG": "false",
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
                "DJANGO_CSRF_TRUSTED_ORIGINS": f"https://127.0.0.1:{port}" if port else "",
                "DJANGO_STATIC_ROOT": str(options.work / "staticfiles"),
                "DJANGO_LOG_LEVEL": options.log_level,
                "DATABASE_URL": self.database_url,
                "REDIS_URL": options.redis_url,
                "VIEWSITE_VAR_DIR": str(self.var_dir),
                "VIEWSITE_DEFAULT_DATA": str(DATA),
                "VIEWSITE_RETRAIN_DATA": str(DATA),
                "VIEWSITE_THROTTLE_ANON_RATE": THROTTLE_RATE,
                "VIEWSITE_THROTTLE_USER_RATE": THROTTLE_RATE,
                **options.gunicorn_overrides,
                **({"GUNICORN_WORKERS": str(workers)} if workers else {}),
                "GUNICORN_BIND": f"127.0.0.1:{port}" if port else "",
                "GUNICORN_GRACEFUL_TIMEOUT": "5",
                **options.signing_keys,
            }
        )
        base = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("DJANGO_", "VIEWSITE_", "GUNICORN_", "DATABASE_URL"))
        }
        # Empty values mean "the default", as they do in the env file for systemd.
        return {**base, **{name: value for name, value in values.items() if value != ""}}

    def manage(self, options, *args: str) -> None:
        log = options.work / "manage.log"
        with log.open("a") as out:
            out.write(f"$ [{self.database}] manage.py {' '.join(args)}\n")
            out.flush()
            result = subprocess.run(
                [PYTHON, "manage.py", *args],
                cwd=ROOT,
                env=self.env(options),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=300,
                check=False,
            )
        if result.returncode != 0:
            raise BenchError(f"manage.py {' '.join(args)} failed on {self.database}; see {log}")

    def install(self, options) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.manage(options, "migrate", "--noinput")
        self.manage(options, "retrain")

    @contextmanager
    def gunicorn(self, options):
        port = free_port()
        command = gunicorn_command(options, port, "--config=deploy/gunicorn.conf.py")
        command.append("viewsite.wsgi:application")
        with serve(
            command,
            env=self.env(options, port=port),
            log=options.work / f"viewsite-{self.database}.log",
            port=port,
            ready_path="/healthz",
            name=VIEWSITE,
            database=self.database,
            workers=str(options.workers),
        ) as server:
            server.csrf_token = csrf_token(server)
            yield server


def deployment_workers(site: Site, options) -> Workers:
    """The workers deploy/gunicorn.conf.py gives viewsite in this benchmark's environment (the
    env file's GUNICORN_* values, or --workers/--worker-class/--threads)."""
    read = (
        "import json, runpy; c = runpy.run_path('deploy/gunicorn.conf.py'); "
        "print(json.dumps([c['workers'], c.get('worker_class', 'sync'), c.get('threads', 1)]))"
    )
    result = subprocess.run(
        [PYTHON, "-c", read],
        cwd=ROOT,
        env=site.env(options),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"reading deploy/gunicorn.conf.py failed: {result.stderr}")
    processes, worker_class, threads = json.loads(result.stdout)
    # gunicorn runs a sync worker with threads > 1 as gthread, and so does this.
    if worker_class == "sync" and threads > 1:
        worker_class = "gthread"
    return Workers(processes, worker_class, threads)


def gunicorn_command(options, port: int, *args: str) -> list[str]:
    """gunicorn with a control socket of its own: gunicorn 25+ otherwise opens one shared path
    ($XDG_RUNTIME_DIR or ~/.gunicorn/gunicorn.ctl) for every instance the user runs."""
    socket_path = options.work / f"gunicorn-{port}.ctl"
    return [PYTHON, "-m", "gunicorn", *args, f"--control-socket={socket_path}"]


def csrf_token(server: Server) -> str:
    """GET the form as a browser behind nginx would, and keep the csrftoken cookie it sets."""
    status, headers, _ = request(
        server.port, "GET", "/", headers={"Host": server.origin, **PROXY_HEADERS}
    )
    if status != 200:
        raise BenchError(f"GET / answered {status} {headers.get('Location', '')}; see {server.log}")
    for cookie in headers.get_all("Set-Cookie") or []:
        name, _, rest = cookie.partition("=")
        if name.strip() == "csrftoken":
            return rest.split(";", 1)[0]
    raise BenchError("GET / set no csrftoken cookie")


@contextmanager
def postgres_database(admin_url: str):
    """A throwaway database on the server at admin_url; dropped WITH (FORCE) whatever happens."""
    import psycopg
    from psycopg import sql

    name = f"viewsite_bench_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        raise BenchError(
            f"PostgreSQL at {admin_url} is unreachable ({error}); pass --skip-postgres"
        ) from error
    try:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield urllib.parse.urlsplit(admin_url)._replace(path=f"/{name}").geturl()
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        admin.close()


@contextmanager
def redis_server(options):
    """A private redis-server on a free loopback port, in memory only; yields its URL."""
    port = free_port()
    log = options.work / "redis.log"
    command = [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    command += ["no", "--dir", str(options.work), "--logfile", ""]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                raise BenchError(f"redis-server exited with {process.returncode}; see {log}")
            with suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as probe:
                probe.sendall(b"PING\r\n")
                if probe.recv(16).startswith(b"+PONG"):
                    break
            if time.monotonic() > deadline:
                raise BenchError(f"redis-server did not answer PING within 15 s; see {log}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)


# ------------------------------------------------------------------------------------------------
# The course app
# ------------------------------------------------------------------------------------------------
def course_env(options) -> dict:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GUNICORN_", "FLASK_", "DJANGO_", "VIEWSITE_", "DATABASE_URL"))
    }
    return {**env, "BENCH_MODEL_PATH": str(options.work / "course-model.joblib")}


def train_course_model(options) -> None:
    log = options.work / "course-train.log"
    with log.open("w") as out:
        result = subprocess.run(
            [PYTHON, "bench/course_train.py", str(DATA), str(options.work / "course-model.joblib")],
            cwd=ROOT,
            env=course_env(options),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=False,
        )
    if result.returncode != 0:
        raise BenchError(f"training the course model failed; see {log}")


@contextmanager
def course_server(options, *, gunicorn: bool):
    port = free_port()
    if gunicorn:  # as the course deploys it (`gunicorn -w 2 app:app`), with viewsite's workers
        name, workers = f"{COURSE} (gunicorn)", str(options.workers)
        command = gunicorn_command(options, port, *options.workers.args())
        command += ["-b", f"127.0.0.1:{port}", "bench.course_app:app"]
    else:  # as the course runs it: `flask run` (threaded by default)
        name, workers = f"{COURSE} (Flask dev)", "1 (threaded)"
        command = [PYTHON, "-m", "flask", "--app", "bench.course_app", "run"]
        command += ["--host", "127.0.0.1", "--port", str(port)]
    with serve(
        command,
        env=course_env(options),
        log=options.work / f"course-{'gunicorn' if gunicorn else 'flask'}.log",
        port=port,
        ready_path="/",
        name=name,
        database="-",
        workers=workers,
    ) as server:
        yield server


@contextmanager
def floor_server(options, site: "Site | None"):
    """bench/floor_app.py under gunicorn with viewsite's workers: `hello`, or `audit` into
    `site`."""
    port = free_port()
    env = {**course_env(options), "FLOOR_MODE": "audit" if site else "hello"}
    if site:
        env["FLOOR_DATABASE"] = site.database_url or str(site.var_dir / "viewsite.sqlite3")
    command = gunicorn_command(options, port, *options.workers.args())
    command += ["-b", f"127.0.0.1:{port}", "bench.floor_app:app"]
    with serve(
        command,
        env=env,
        log=options.work / f"floor-{site.database if site else 'hello'}.log",
        port=port,
        ready_path="/",
        name=FLOOR_AUDIT if site else f"{FLOOR} (WSGI hello)",
        database=site.database if site else "-",
        workers=str(options.workers),
    ) as server:
        yield server


# ------------------------------------------------------------------------------------------------
# Batch, start-up, memory
# ------------------------------------------------------------------------------------------------
def batch_seconds(server: Server) -> float:
    """One POST of BATCH_SIZE predictions, timed from sending to the last byte of the answer."""
    items = [{"likes": i % 6000, "shares": (i * 7) % 3000} for i in range(BATCH_SIZE)]
    body = json.dumps(items).encode()
    headers = {"Host": server.origin, "Content-Type": "application/json", **PROXY_HEADERS}
    started = time.perf_counter()
    status, _, answer = request(server.port, "POST", "/api/predictions/", body, headers, timeout=60)
    elapsed = time.perf_counter() - started
    if status != 201:
        raise BenchError(f"batch answered {status}: {answer[:300]!r}; see {server.log}")
    if len(json.loads(answer)) != BATCH_SIZE:
        raise BenchError(f"batch answered {len(json.loads(answer))} items, not {BATCH_SIZE}")
    return elapsed


@dataclass
class FileRun:
    """One `manage.py predict --csv` of the generated file."""

    database: str
    rows: int
    rate: float  # rows/s, as the command reports it (from its start to its last row)
    seconds: float  # end to end, Django's start-up included
    rss_mb: float  # the command's peak resident memory
    audited: int  # audit rows of the command's channel it added


def inputs_csv(options, rows: int) -> Path:
    """The file to predict, made by the project's own code from a fixed seed
    (predictor.sample_data.write_inputs)."""
    path = options.work / f"inputs-{rows}.csv"
    code = "import sys; from predictor import sample_data; "
    code += "sample_data.write_inputs(sys.argv[1], rows=int(sys.argv[2]))"
    subprocess.run(
        [PYTHON, "-c", code, str(path), str(rows)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_DEBUG": "true", "DJANGO_SETTINGS_MODULE": "viewsite.settings"},
        check=True,
        timeout=300,
    )
    return path


def audited_cli_rows(site: "Site", options) -> int:
    code = (
        "from predictor.models import PredictionRequest; "
        "print(PredictionRequest.objects.filter(channel='cli').count())"
    )
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=site.env(options),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"counting audit rows failed on {site.database}: {result.stderr[-500:]}")
    return int(result.stdout.split()[-1])


def predict_file(site: "Site", options, path: Path, rows: int) -> FileRun:
    """`manage.py predict --csv` of `path`, timed, its peak RSS read from the kernel (wait4),
    and the audit rows it added counted in the database."""
    before = audited_cli_rows(site, options)
    out = options.work / f"predicted-{site.database}.csv"
    log = options.work / f"predict-{site.database}.log"
    started = time.perf_counter()
    with log.open("w") as output:
        process = subprocess.Popen(
            # In English whatever the deployment's language: the summary line is parsed below.
            [
                PYTHON,
                "manage.py",
                "predict",
                "--csv",
                str(path),
                "--out",
                str(out),
                "--language",
                "en",
            ],
            cwd=ROOT,
            env=site.env(options),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    text = log.read_text()
    reported = re.search(r"Read ([\d,]+) rows .* \(([\d,]+) rows/s\)", text)
    if process.returncode != 0 or reported is None:
        raise BenchError(f"predict --csv failed on {site.database}; see {log}")
    if int(reported[1].replace(",", "")) != rows:
        raise BenchError(f"predict --csv read {reported[1]} rows, not {rows:,}; see {log}")
    audited = audited_cli_rows(site, options) - before
    if audited != rows:
        raise BenchError(f"predict --csv audited {audited:,} rows of {rows:,} on {site.database}")
    return FileRun(
        site.database,
        rows,
        rate=float(reported[2].replace(",", "")),
        seconds=seconds,
        rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        audited=audited,
    )


def start_up_seconds(site: Site, options) -> tuple[float, float]:
    """From launching gunicorn with 1 worker to its first /healthz 200, and to its first 201."""
    port = free_port()
    log = options.work / "start-up.log"
    env = site.env(options, port=port, workers=1)
    command = gunicorn_command(options, port, "--config=deploy/gunicorn.conf.py")
    command.append("viewsite.wsgi:application")
    headers = {"Host": f"127.0.0.1:{port}", "Content-Type": "application/json", **PROXY_HEADERS}
    with log.open("ab") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while True:
            if process.poll() is not None:
                raise BenchError(f"gunicorn exited with {process.returncode}; see {log}")
            if time.perf_counter() - started > 60:
                raise BenchError(f"gunicorn did not answer /healthz within 60 s; see {log}")
            with suppress(OSError):  # refused or reset while the worker boots
                if request(port, "GET", "/healthz", timeout=5)[0] == 200:
                    break
            time.sleep(0.01)
        healthy = time.perf_counter() - started
        status, _, body = request(
            port, "POST", "/api/predictions/", json.dumps(ONE).encode(), headers
        )
        predicted = time.perf_counter() - started
        if status != 201:
            raise BenchError(f"first prediction answered {status}: {body[:200]!r}")
        return healthy, predicted
    finally:
        stop(process)


def inspect_workers(server: Server) -> list[tuple[int, float, bool]]:
    """(pid, RSS in MB, pandas loaded) for each worker, after each has answered predictions."""
    body = json.dumps(ONE).encode()
    headers = {"Host": server.origin, "Content-Type": "application/json", **PROXY_HEADERS}
    # A worker recycled by max_requests during the load may not have served yet: parallel
    # predictions reach every worker of a sync gunicorn (each takes one connection at a time),
    # and most likely every gthread worker (each accepts while its threads are busy).
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = pool.map(
            lambda _: request(server.port, "POST", "/api/predictions/", body, headers)[0],
            range(24),
        )
        if set(answers) != {201}:
            raise BenchError(f"predictions before measuring memory answered {set(answers)}")
    return workers_of(server)


def workers_of(server: Server) -> list[tuple[int, float, bool]]:
    return [(pid, rss_mb(pid), has_pandas(pid)) for pid in worker_pids(server.process.pid)]


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------
def table(results: list[Result]) -> str:
    baseline = {
        result.scenario: result.median.rps
        for result in results
        if result.server == f"{COURSE} (gunicorn)"
    }
    rows = [
        (
            "scenario",
            "server",
            "database",
            "workers",
            "req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "ratio",
        )
    ]
    for result in results:
        run = result.median
        ratio = f"{run.rps / baseline[result.scenario]:.2f}" if result.scenario in baseline else "-"
        rows.append(
            (
                result.scenario,
                result.server,
                result.database,
                result.workers,
                f"{run.rps:.1f}",
                f"{run.p50_ms:.1f}",
                f"{run.p99_ms:.1f}",
                str(run.errors),
                ratio,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {4, 5, 6, 7, 8}
    return "\n".join(
        "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    )


# Issue 21's targets: the audited API as a share of the floor (the bare WSGI app with the same
# durable INSERT, same database), the form as a share of the course app's form, a batch's time,
# the workers' memory after it, and predict --csv's rows per second and peak memory.
API_FLOOR_SHARE = 0.4
FORM_COURSE_SHARE = 0.3
BATCH_SECONDS = 0.15
WORKER_RSS_MB = 120
CSV_GOAL_RATE = 100_000
CSV_GOAL_RSS_MB = 200


def targets(
    results: list[Result], batches: dict, workers: dict, files: list
) -> list[tuple[str, ...]]:
    """(target, database, measured, goal, verdict) rows, each from figures of the same run."""
    by_key = {(r.scenario, r.server, r.database): r.median for r in results}
    rows = []
    for database in ("SQLite", "PostgreSQL"):
        ours = by_key.get(("api", VIEWSITE, database))
        floor = by_key.get(("api", FLOOR_AUDIT, database))
        if ours and floor:
            share = ours.rps / floor.rps
            rows.append(
                (
                    "api / floor (WSGI + audit INSERT)",
                    database,
                    f"{share:.2f}",
                    f">= {API_FLOOR_SHARE}",
                    verdict(share >= API_FLOOR_SHARE),
                )
            )
    for database in ("SQLite", "PostgreSQL"):
        ours = by_key.get(("form", VIEWSITE, database))
        course = by_key.get(("form", f"{COURSE} (gunicorn)", "-"))
        if ours and course:
            share = ours.rps / course.rps
            rows.append(
                (
                    "form / course app's form",
                    database,
                    f"{share:.2f}",
                    f">= {FORM_COURSE_SHARE}",
                    verdict(share >= FORM_COURSE_SHARE),
                )
            )
    for database, seconds in batches.items():
        median = statistics.median(seconds)
        rows.append(
            (
                f"batch of {BATCH_SIZE:,}, s",
                database,
                f"{median:.3f}",
                f"< {BATCH_SECONDS}",
                verdict(median < BATCH_SECONDS),
            )
        )
    for run in files:
        rows.append(
            (
                f"predict --csv of {run.rows:,} rows, rows/s",
                run.database,
                f"{run.rate:,.0f}",
                f">= {CSV_GOAL_RATE:,}",
                verdict(run.rate >= CSV_GOAL_RATE and run.audited == run.rows),
            )
        )
        rows.append(
            (
                "predict --csv peak RSS, MB",
                run.database,
                f"{run.rss_mb:.0f}",
                f"< {CSV_GOAL_RSS_MB}",
                verdict(run.rss_mb < CSV_GOAL_RSS_MB),
            )
        )
    ours = [rss for label, ws in workers.items() if label.startswith(VIEWSITE) for _, rss, _ in ws]
    if ours:
        rows.append(
            (
                "worker RSS after the batches, MB",
                "both",
                f"{max(ours):.0f}",
                f"< {WORKER_RSS_MB}",
                verdict(max(ours) < WORKER_RSS_MB),
            )
        )
    return rows


def columns(rows: list[tuple[str, ...]]) -> str:
    """Rows as aligned text columns, the first row being the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def say(text: str = "") -> None:
    print(text, flush=True)


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------
def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per run (8)")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario; median (3)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds (2)")
    parser.add_argument("--skip-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 run of 3 s")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also load bench/floor_app.py: the most any design can serve here (API only)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL database to CREATE/DROP the throwaway database from",
    )
    parser.add_argument(
        "--log-level", default="WARNING", help="DJANGO_LOG_LEVEL for viewsite (WARNING)"
    )
    parser.add_argument(
        "--csv-rows",
        type=int,
        default=CSV_ROWS,
        help=f"rows for predict --csv on each database ({CSV_ROWS:,}; 0 leaves it out)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and logs")
    # To measure other worker settings than the deployment's (deploy/README.md's comparison):
    # they reach viewsite as GUNICORN_* and the course app and the floor as the same arguments.
    parser.add_argument("--workers", type=int, help="GUNICORN_WORKERS instead of the env file's")
    parser.add_argument("--worker-class", help="GUNICORN_WORKER_CLASS (sync, gthread)")
    parser.add_argument("--threads", type=int, help="GUNICORN_THREADS")
    parser.add_argument(
        "--time-limit", type=int, default=900, help="stop everything after this many seconds"
    )
    options = parser.parse_args(argv)
    if options.quick:
        options.runs, options.duration, options.warmup = 1, 3.0, 1.0
    if options.runs < 1 or options.duration <= 0:
        parser.error("--runs and --duration must be positive")
    chosen = {
        "GUNICORN_WORKERS": options.workers,
        "GUNICORN_WORKER_CLASS": options.worker_class,
        "GUNICORN_THREADS": options.threads,
    }
    options.gunicorn_overrides = {name: str(v) for name, v in chosen.items() if v is not None}
    return options


WRK = shutil.which("wrk") or "/usr/bin/wrk"
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def signing_keys() -> dict:
    """A fresh artifact signing pair for this run's retrains, made as an operator makes one
    (production settings have no default key)."""
    made = subprocess.run(
        [sys.executable, "manage.py", "make_signing_key", "--verbosity", "0"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_DEBUG": "true"},
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(line.split("=", 1) for line in made.stdout.split())


def bench_options(argv, prefix: str):
    """run.py's options for `argv` (the deployment's workers among them), with what every bench
    run needs besides: a secret key, signing keys (production settings have no default key) and
    a work folder of its own, named with `prefix`."""
    options = parse_args(argv)
    options.secret_key = secrets.token_urlsafe(50)
    options.signing_keys = signing_keys()
    options.work = Path(tempfile.mkdtemp(prefix=prefix))
    return options


def main(argv=None) -> int:
    options = bench_options(argv, "viewsite-bench-")
    for tool, package in ((WRK, "wrk"), (REDIS, "redis-server")):
        if not Path(tool).exists():
            raise SystemExit(f"{tool} is missing: `apt-get install {package}` (make bench does it)")
    repeats = options.runs  # batch and start-up: as many as the load's runs (1 with --quick)

    def on_alarm(signum, frame):
        raise TimeLimit(f"time limit of {options.time_limit} s reached")

    def on_term(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(options.time_limit)
    databases = 1 if options.skip_postgres else 2
    scenarios = 3 + 2 * databases + (1 + databases if options.floor else 0)
    estimate = scenarios * (options.warmup + options.runs * options.duration) + 45
    say(
        f"viewsite benchmark: {CONNECTIONS} connections, {THREADS} wrk threads, warm-up "
        f"{options.warmup:g} s, {options.runs} x {options.duration:g} s per scenario; "
        f"about {estimate / 60:.0f} min. Logs: {options.work}"
    )

    ok = False
    results: list[Result] = []
    workers: dict[str, list[tuple[int, float, bool]]] = {}
    batches: dict[str, list[float]] = {}
    recycled: list[str] = []
    try:
        with ExitStack() as stack:
            say("\nSetting up: collectstatic, migrate and retrain (viewsite), the course model")
            options.redis_url = stack.enter_context(redis_server(options))
            sites = [Site("SQLite", options.work / "sqlite")]
            if not options.skip_postgres:
                url = stack.enter_context(postgres_database(options.postgres_url))
                sites.append(Site("PostgreSQL", options.work / "postgresql", url))
            sites[0].manage(options, "collectstatic", "--noinput")
            for site in sites:
                site.install(options)
            train_course_model(options)
            options.workers = deployment_workers(sites[0], options)
            say(f"\n{configuration(options)}")

            say("\nLoad (each server alone on the machine, then stopped)")
            with course_server(options, gunicorn=False) as server:
                results.append(load(server, api_scenario(server), options, options.work))
            with course_server(options, gunicorn=True) as server:
                results.append(load(server, api_scenario(server), options, options.work))
                results.append(load(server, form_scenario(server), options, options.work))
                workers[server.name] = workers_of(server)
            for site in sites:
                with site.gunicorn(options) as server:
                    before = worker_pids(server.process.pid)
                    results.append(load(server, api_scenario(server), options, options.work))
                    results.append(load(server, form_scenario(server), options, options.work))
                    batches[site.database] = [batch_seconds(server) for _ in range(repeats)]
                    say(
                        f"  batch of {BATCH_SIZE:,} on {site.database}: "
                        + ", ".join(f"{s:.3f} s" for s in batches[site.database])
                    )
                    if worker_pids(server.process.pid) != before:
                        recycled.append(site.database)
                    workers[f"{VIEWSITE} {site.database}"] = inspect_workers(server)
            if options.floor:
                # After viewsite, so the audit rows land in tables viewsite migrated and filled.
                for site in [None, *sites]:
                    with floor_server(options, site) as server:
                        results.append(load(server, api_scenario(server), options, options.work))

            files = []
            if options.csv_rows:
                say(f"\npredict --csv of {options.csv_rows:,} rows (no server running)")
                path = inputs_csv(options, options.csv_rows)
                for site in sites:
                    files.append(predict_file(site, options, path, options.csv_rows))
                    say(
                        f"  {site.database}: {files[-1].rate:,.0f} rows/s, "
                        f"{files[-1].seconds:.1f} s end to end, peak RSS {files[-1].rss_mb:.0f} MB"
                    )

            say("\nWorker start-up (gunicorn, 1 worker, SQLite)")
            start_ups = []
            for _ in range(repeats):
                start_ups.append(start_up_seconds(sites[0], options))
                say(
                    f"  /healthz after {start_ups[-1][0]:.2f} s, "
                    f"first prediction after {start_ups[-1][1]:.2f} s"
                )
        ok = True
    except BenchError as error:
        say(f"\nbench: {error}")
        return 1
    except (TimeLimit, KeyboardInterrupt) as error:
        say(f"\nbench: {error or 'interrupted'}; everything it started was stopped")
        return 1
    finally:
        signal.alarm(0)
        if ok and not options.keep:
            shutil.rmtree(options.work, ignore_errors=True)
        else:
            say(f"\nLogs kept in {options.work}")

    report(options, results, workers, batches, start_ups, recycled, files)
    return 0


def configuration(options) -> str:
    overridden = " ".join(f"{name}={value}" for name, value in options.gunicorn_overrides.items())
    source = f"overridden: {overridden}" if overridden else "as deployed"
    return (
        f"gunicorn workers: {options.workers} (deploy/gunicorn.conf.py and "
        f"deploy/viewsite.env.example, {source}), for viewsite, the course app and the floor"
    )


def report(options, results, workers, batches, start_ups, recycled, files) -> None:
    say("\n" + configuration(options))
    say("\n" + table(results))
    say()
    for database, seconds in batches.items():
        say(
            f"batch of {BATCH_SIZE:,} ({database}): {statistics.median(seconds):.3f} s (median of "
            f"{len(seconds)}, end to end: " + ", ".join(f"{s:.3f}" for s in seconds) + ")"
        )
    for run in files:
        say(
            f"predict --csv of {run.rows:,} rows ({run.database}): {run.rate:,.0f} rows/s "
            f"({run.seconds:.1f} s with start-up), peak RSS {run.rss_mb:.0f} MB, "
            f"{run.audited:,} rows audited"
        )
    healthy = statistics.median(s[0] for s in start_ups)
    predicted = statistics.median(s[1] for s in start_ups)
    say(
        f"worker start-up: {healthy:.2f} s to /healthz, {predicted:.2f} s to the first prediction "
        f"(median of {len(start_ups)}; goal <= 2 s: {verdict(predicted <= 2.0)})"
    )
    ours = [w for label, ws in workers.items() if label.startswith(VIEWSITE) for w in ws]
    if ours:
        biggest = max(rss for _, rss, _ in ours)
        say(
            f"worker RSS: {biggest:.0f} MB (max of {len(ours)} viewsite workers, after the load "
            "and the batches: " + ", ".join(f"{rss:.0f}" for _, rss, _ in ours) + " MB)"
        )
    course = workers.get(f"{COURSE} (gunicorn)", [])
    if course:
        say("course app worker RSS: " + ", ".join(f"{rss:.0f}" for _, rss, _ in course) + " MB")
    say(
        f"pandas on the request path: {'yes' if any(p for _, _, p in ours) else 'no'}"
        f" ({sum(p for _, _, p in ours)} of {len(ours)} viewsite workers have pandas loaded)"
    )
    if recycled:
        say(
            "note: gunicorn recycled workers during the load (max_requests) on "
            + " and ".join(recycled)
        )
    rows = targets(results, batches, workers, files)
    if rows:
        say(f"\nIssue 21's targets (gunicorn workers: {options.workers})\n")
        say(columns([("target", "database", "measured", "goal", "verdict"), *rows]))


if __name__ == "__main__":
    sys.exit(main())
