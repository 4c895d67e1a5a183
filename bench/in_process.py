"""CPU per request, in process: viewsite's WSGI application and the course app's, called in a loop.

`make bench` measures throughput under load, where every process shares the cores with wrk,
Redis and the database, so figures move by tens of percent from run to run. This measures what
one request costs the process that serves it, with no server and no load generator: the WSGI
application is called directly with the request wrk sends, in batches of 100, and the smallest
batch's `time.process_time()` per request is reported (the least disturbed by the rest of the
machine). viewsite runs with the production environment of `make bench` (DEBUG off, rate limits
on a private redis-server, audit on); the course app with its model trained as `make bench`
trains it.

    .venv/bin/python bench/in_process.py [--requests 3000] [--skip-postgres]
"""

import argparse
import io
import json
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# bench/run.py: the environment, Redis, PostgreSQL and the course model, as `make bench` has them.
import run as bench

TOKEN = "a" * 32  # the form's CSRF token: cookie and field alike, as `make bench` sends them


def wsgi_request(path: str, scenario: str, extra: dict) -> dict:
    if scenario == "api":
        body, content_type = json.dumps(bench.ONE).encode(), "application/json"
        headers = {}
    else:
        fields = {name: str(value) for name, value in bench.ONE.items()}
        if extra.get("csrf"):
            fields["csrfmiddlewaretoken"] = TOKEN
        body = "&".join(f"{k}={v}" for k, v in fields.items()).encode()
        content_type = "application/x-www-form-urlencoded"
        headers = {"HTTP_COOKIE": f"csrftoken={TOKEN}", "HTTP_REFERER": "https://127.0.0.1/"}
    return {
        **headers,
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_X_FORWARDED_FOR": "127.0.0.1",
        "HTTP_USER_AGENT": "viewsite-bench/in-process",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def cpu_ms_per_request(application, path: str, scenario: str, requests: int, **extra) -> float:
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def one():
        b"".join(application(wsgi_request(path, scenario, extra), start_response))

    for _ in range(200):  # warm-up: the model loaded, the connections open
        one()
    if not statuses[-1].startswith(("200", "201")):
        raise SystemExit(f"{path} answered {statuses[-1]}")
    batches = []
    for _ in range(max(1, requests // 100)):
        started = time.process_time()
        for _ in range(100):
            one()
        batches.append((time.process_time() - started) * 10)
    return min(batches)


def child(options) -> None:
    """In the child process, whose environment is viewsite's (or the course app's)."""
    sys.path.insert(0, str(bench.ROOT))
    if options.child == "course":
        from bench.course_app import app

        for scenario, path in (("api", "/predict"), ("form", "/")):
            print(json.dumps([scenario, cpu_ms_per_request(app, path, scenario, options.requests)]))
        return
    import logging

    from viewsite.wsgi import application

    logging.disable(logging.WARNING)  # as `make bench` runs it: DJANGO_LOG_LEVEL=WARNING
    for scenario, path in (("api", "/api/predictions/"), ("form", "/")):
        if options.profile:
            profile(application, path, scenario, options)
            continue
        figure = cpu_ms_per_request(application, path, scenario, options.requests, csrf=True)
        print(json.dumps([scenario, figure]))


def profile(application, path: str, scenario: str, options) -> None:
    """Where one request's time goes: cProfile over `--requests` of them, to stderr."""
    import cProfile
    import pstats

    def start_response(status, headers, exc_info=None):
        pass

    for _ in range(200):
        b"".join(application(wsgi_request(path, scenario, {"csrf": True}), start_response))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(options.requests):
        b"".join(application(wsgi_request(path, scenario, {"csrf": True}), start_response))
    profiler.disable()
    print(f"--- {scenario} ---", file=sys.stderr)
    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.sort_stats(options.profile).print_stats(45)


def measure(command_env: dict, which: str, options) -> dict[str, float]:
    result = subprocess.run(
        [
            bench.PYTHON,
            __file__,
            "--child",
            which,
            "--requests",
            str(options.requests),
            *(["--profile", options.profile] if options.profile else []),
        ],
        cwd=bench.ROOT,
        env=command_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{which}: {result.stderr[-3000:]}")
    if options.profile:
        print(result.stderr)
    return dict(json.loads(line) for line in result.stdout.splitlines() if line.startswith("["))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--profile",
        metavar="SORT",
        help="print a cProfile of viewsite's requests sorted by SORT (cumulative, tottime)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options)
        return
    settings = bench.bench_options(
        ["--skip-postgres"] if options.skip_postgres else [], "viewsite-in-process-"
    )
    settings.log_level = "WARNING"
    rows = []
    with ExitStack() as stack:
        settings.redis_url = stack.enter_context(bench.redis_server(settings))
        bench.train_course_model(settings)
        if not options.profile:
            rows.append(("course app", "-", measure(bench.course_env(settings), "course", options)))
        sites = [bench.Site("SQLite", settings.work / "var-sqlite")]
        if not options.skip_postgres:
            url = stack.enter_context(bench.postgres_database(settings.postgres_url))
            sites.append(bench.Site("PostgreSQL", settings.work / "var-postgresql", url))
        sites[0].manage(settings, "collectstatic", "--noinput")  # the form page names its CSS
        for site in sites:
            site.install(settings)
            rows.append(
                ("viewsite", site.database, measure(site.env(settings), "viewsite", options))
            )
    if options.profile:
        return
    print(
        f"{'server':12}{'database':12}{'api ms':>8}{'form ms':>9}   (CPU per request, in process)"
    )
    for server, database, figures in rows:
        print(f"{server:12}{database:12}{figures['api']:8.3f}{figures['form']:9.3f}")


if __name__ == "__main__":
    main()
