"""gunicorn settings for viewsite: `gunicorn -c deploy/gunicorn.conf.py viewsite.wsgi:application`.

Every value can be changed from the environment (GUNICORN_*), so the same file serves a laptop,
one server, and each of N app hosts. https://docs.gunicorn.org/en/stable/settings.html
"""

import gc
import multiprocessing
import os
import re
from pathlib import Path


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


# Loopback only: nginx is the one way in, and it is what sets X-Forwarded-For/-Proto.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# One process per core, each with a few threads (gthread), chosen by measurement on both
# databases (deploy/README.md, "Workers"): a prediction spends much of its time waiting (for the
# database, Redis, SQLite's write lock, and for nginx to close the connection after the answer),
# and a sync worker idles through every wait where a thread lets the process serve another
# request. More processes measured no better, at about 100 MB each. Django keeps one database
# connection per thread: PostgreSQL sees workers x threads connections per host.
workers = _env_int("GUNICORN_WORKERS", multiprocessing.cpu_count())
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = _env_int("GUNICORN_THREADS", 4)

# A worker that stops reporting to the master for this long is killed. A sync worker reports
# between requests, so one request may last this long; a gthread worker reports from its main
# loop whatever its threads are doing, so a request is never cut short by it. A prediction takes
# milliseconds, but the admin's CSV export of the whole audit trail streams about 50,000 rows a
# second: a year of ten million rows takes over three minutes (bench/README.md), so the limit is
# ten for sync workers. Clients are not kept waiting on a stuck request meanwhile: nginx gives up
# on a silent upstream after 35 s (proxy_read_timeout).
timeout = _env_int("GUNICORN_TIMEOUT", 600)
# On SIGTERM or a reload, workers get this long to finish the requests they are serving.
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)

# Recycle workers now and then, with jitter so they do not all restart at once. Rarely: a new
# worker needs about 0.9 s to start, and a request waiting behind it shows in the p99. A worker
# at full load serves over 1,000 requests a second, so at 10,000 it restarted every ten seconds
# (bench/README.md).
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 100_000)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", 10_000)

# Code is loaded in each worker, not in the master: `kill -HUP <master>` (systemctl reload)
# starts new workers on the new code and retires the old ones once they finish, with no
# request dropped. The model itself is loaded lazily on a worker's first prediction.
preload_app = False

# Trust X-Forwarded-* only from the local nginx.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# nginx's access log already has a line per request with its request id, status, client and
# timings (deploy/nginx/viewsite.conf.template), so gunicorn's is off unless GUNICORN_ACCESS_LOG
# names a file ("-" for stdout): formatting and writing it cost about a third of a prediction's
# CPU (bench/README.md). When on, each line carries the request id nginx assigned, so a line
# here matches a line in nginx's log, and the time taken in milliseconds.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# key=value pairs (gunicorn escapes quotes inside values), so the line stays one parseable record.
access_log_format = (
    'request_id=%({x-request-id}i)s client=%({x-forwarded-for}i)s method=%(m)s path="%(U)s" '
    'query="%(q)s" status=%(s)s bytes=%(b)s duration_ms=%(M)s user_agent="%(a)s"'
)

proc_name = "viewsite"

# gunicorn's control socket defaults to one path per user, which every instance on a host would
# share; viewsite is run with signals (systemctl reload/stop), so it is off.
control_socket_disable = True


# Prometheus metrics (predictor/metrics.py): each worker counts in files of its own, in a folder
# for this gunicorn alone (named after its bind address, so two on one host never share one), and
# /metrics adds them all up, so a scrape sees every worker's counts, not the one that answered it.
# https://prometheus.github.io/client_python/multiprocess/
def on_starting(server):
    """Set the folder before any worker starts (prometheus-client reads the variable when a
    worker imports it; forked workers inherit it), and empty it of counts: those of an earlier
    run would otherwise be added to this one's."""
    default = Path(
        os.environ.get("VIEWSITE_VAR_DIR", Path(__file__).resolve().parent.parent / "var")
    )
    name = re.sub(r"[^A-Za-z0-9.]+", "-", "_".join(server.cfg.bind)).strip("-")
    folder = Path(
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(default / "prometheus" / name))
    )
    folder.mkdir(parents=True, exist_ok=True)
    # Only the count files: the folder may be one an operator chose, with other things in it.
    for counts in folder.glob("*.db"):
        counts.unlink()


def child_exit(server, worker):
    """A worker that exits takes its live gauges with it; its counters stay counted."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


# A batch (VIEWSITE_BATCH_MAX items in one request) holds about 10 MB while it is answered: its
# parsed body, the answers, the rendered JSON. DRF keeps every request in reference cycles (the
# request is in its own parser_context, the view and the response refer to each other;
# encode/django-rest-framework#5826), so all of it waits for a full pass of Python's cyclic
# garbage collector, which runs rarely, and a second batch grew the heap by as much again
# (bench/README.md, "Worker memory"). A request with a body this large first runs that pass, so
# it reuses what the one before it left instead of growing the process. A prediction's body is
# tens of bytes, and such requests never pay for it.
LARGE_REQUEST_BYTES = 100_000


def post_worker_init(worker):
    """Leave what the worker has loaded out of the garbage collector's full passes.

    Django, DRF, NumPy and the rest are loaded now and live as long as the worker. Every full
    collection walked all of them: a batch of 10,000 inputs allocates enough to set off several
    (a quarter of the batch's time), and a full pass after a batch took 57 to 120 ms, now 22
    (bench/README.md). Frozen here, before the worker answers anything, so no request's garbage
    is ever frozen with them. https://docs.python.org/3/library/gc.html#gc.freeze
    """
    gc.freeze()


def pre_request(worker, req):
    for name, value in req.headers:
        if name == "CONTENT-LENGTH" and value.isdigit() and int(value) > LARGE_REQUEST_BYTES:
            gc.collect()
            return
