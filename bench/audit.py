"""`make bench-audit`: the audit trail as the auditor and the engineers use it, at 1M and 10M rows.

A throwaway PostgreSQL database is migrated, given three model versions by `manage.py retrain`,
and loaded by SQL (INSERT ... SELECT FROM generate_series) with a trail that grows as a real one
does: ten million rows a year, so 1,000,000 rows are its first five weeks and 10,000,000 the
whole year, newest last. About 70% of requests come through the API, 27% the form and 3% the
command line; 5% are refused; 4,000 client IPs; 10% from one of 20 users; one row in fifty in a
batch of 20 (sharing one timestamp); the version changes every 350,000 rows among the three.
After VACUUM ANALYZE (what autovacuum does to an append-only table) and `seal_audit` (what the
timer does, which also moves the served counts' checkpoint), each operation is timed in
process (Django's test Client, logged in as a superuser, in a child process with the production
environment) and through gunicorn (deploy/gunicorn.conf.py, 2 sync workers, a session cookie):
the median of --repeat runs after one warm-up. The exports run once each, read to the end, with
the rows per second and the peak memory of the process that served them. One prediction's
latency is timed on the empty table and at each size. One table is printed per size and one
with both side by side; the database and every process are gone at the end, whatever happens.

The trail as a mirror: one answer in a hundred has its real views recorded, and a fourth version
is trained with `retrain --no-activate`, the challenger. At each size `manage.py drift` (of the
oldest and the active version, and over the last month) and `manage.py replay` of the challenger
on everything the active version served are run once each, with the peak memory they added; the
model cards that show drift and the stored replay are timed with the pages.

    .venv/bin/python bench/audit.py [--sizes 1000000,10000000] [--repeat 5] [--only NAMES] [--keep]
"""

import argparse
import http.client
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import time
import urllib.parse
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
# bench/run.py: the production environment, the throwaway database, gunicorn, its workers.
import run as bench

PAGE_GOAL_MS = 200.0
EXPORT_GOAL_ROWS_PER_S = 50_000
# "Bounded memory": the serving process may grow by this much, at most, during an export.
EXPORT_GOAL_MB = 100.0
# "Unchanged from an empty table": a prediction at 10M within this share of the empty figure.
PREDICTION_TOLERANCE = 0.2
ROWS_PER_YEAR = 10_000_000
VERSION_PERIOD = 350_000  # rows between version changes
USERS = 20
API_DEEP_PAGE = 2000
# How long the bench waits for the export of everything; gunicorn's own limit is the deployed
# one (GUNICORN_TIMEOUT, deploy/gunicorn.conf.py), so the bench shows the export fits inside it.
EXPORT_TIMEOUT_S = 1800
# A page slower than this on its warm-up run is not run again: that run is its figure.
SLOW_S = 2.0

LOAD_SQL = """
INSERT INTO predictor_predictionrequest (
    created_at, channel, accepted, raw_input, likes, shares, views, views_lower, views_upper,
    extrapolated, errors, model_version_id, latency_ms, client_ip, user_agent, user_id, batch_id,
    batch_index)
SELECT
    %(start)s::timestamptz + (CASE WHEN batched THEN g - g %% 1000 ELSE g END) * %(step)s,
    channel,
    NOT refused,
    CASE WHEN refused THEN jsonb_build_object('likes', 'x', 'shares', shares)
         ELSE jsonb_build_object('likes', likes, 'shares', shares) END,
    CASE WHEN refused THEN NULL ELSE likes END,
    CASE WHEN refused THEN NULL ELSE shares END,
    CASE WHEN refused THEN NULL ELSE likes * 12.5 + shares * 3.1 END,
    CASE WHEN refused THEN NULL ELSE (likes * 12.5 + shares * 3.1) * 0.8 END,
    CASE WHEN refused THEN NULL ELSE (likes * 12.5 + shares * 3.1) * 1.2 END,
    CASE WHEN refused THEN NULL
         ELSE likes < %(likes_min)s OR likes > %(likes_max)s
              OR shares < %(shares_min)s OR shares > %(shares_max)s END,
    CASE WHEN refused THEN '{"likes": ["A valid integer is required."]}'::jsonb END,
    CASE WHEN refused THEN NULL ELSE (%(versions)s::bigint[])[1 + (g / %(period)s) %% 3] END,
    1 + random() * 5,
    CASE WHEN channel = 'cli' THEN NULL
         ELSE ('10.' || ip %% 16 || '.' || (ip / 16) %% 16 || '.' || ip / 256)::inet END,
    CASE WHEN channel = 'cli' THEN '' ELSE 'Mozilla/5.0 (viewsite-bench/audit)' END,
    CASE WHEN has_user THEN (%(users)s::int[])[1 + g %% %(user_count)s] END,
    CASE WHEN batched THEN md5('batch' || g / 1000)::uuid END,
    CASE WHEN batched THEN g %% 1000 END
FROM (
    SELECT g, refused, batched, has_user, ip, likes, shares,
           CASE WHEN door < 0.70 THEN 'api' WHEN door < 0.97 THEN 'form' ELSE 'cli' END AS channel
    FROM (
        SELECT g, random() < 0.05 AS refused, g %% 1000 < 20 AS batched,
               random() < 0.10 AS has_user, floor(random() * 4000)::int AS ip,
               (g * 7) %% 20000 AS likes, (g * 13) %% 5000 AS shares, random() AS door
        FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
    ) AS drawn
) AS rows
"""

# ------------------------------------------------------------------------------------------------
# The operations, as URLs; the same list is timed in process and through gunicorn
# ------------------------------------------------------------------------------------------------
ADMIN = "/admin/predictor/predictionrequest/"


def operations(targets: dict) -> list[dict]:
    """(name, method, path, kind): kind "page" is timed, "export" read to the end once."""
    day, ip = targets["day"], targets["ip"]
    pages = [
        ("admin list, first page", ADMIN),
        ("admin list, deepest page", f"{ADMIN}?p={targets['deepest_page']}"),
        ("admin filter: old version", f"{ADMIN}?model_version__id__exact={targets['old_version']}"),
        ("admin filter: channel cli", f"{ADMIN}?channel__exact=cli"),
        ("admin filter: refused", f"{ADMIN}?accepted__exact=0"),
        ("admin filter: this year", f"{ADMIN}?created_at__gte={targets['year_start']}"),
        ("admin drill-down: a year", f"{ADMIN}?created={day[:4]}"),
        ("admin drill-down: a day", f"{ADMIN}?created={day}"),
        ("admin search: client IP", f"{ADMIN}?q={ip}"),
        ("admin search: IP prefix /24", f"{ADMIN}?q={ip.rsplit('.', 1)[0]}."),
        ("admin search: user", f"{ADMIN}?q={targets['user']}"),
        ("admin record detail", f"{ADMIN}{targets['record']}/change/"),
        ("admin model versions", "/admin/predictor/modelversion/"),
        # Its served count, extrapolation share and drift cover every request the version
        # answered: summed at the seal's checkpoint, plus the rows since.
        ("model card, oldest version", "/models/v1/"),
        ("model card, active version", f"/models/v{targets['active']}/"),
        # The candidate's card shows its latest replay, stored by `manage.py replay`.
        ("model card, candidate", f"/models/v{targets['candidate']}/"),
        ("API history, first page", "/api/predictions/history/"),
        ("API history, old version", "/api/predictions/history/?model_version=v1"),
        ("API history, a day", f"/api/predictions/history/?date={day}"),
        ("API history, deep page", "DEEP"),
        ("API model versions", "/api/models/"),
    ]
    listed = [{"name": name, "method": "GET", "path": path, "kind": "page"} for name, path in pages]
    # Everything is exported through gunicorn only: at 50,000 rows a second, ten million rows
    # take minutes each way.
    exports = (("export: one day", f"?created={day}", False), ("export: everything", "", True))
    for name, query, gunicorn_only in exports:
        listed.append(
            {
                "name": name,
                "method": "POST",
                "path": ADMIN + query,
                "kind": "export",
                "form": {**EXPORT_FORM, "_selected_action": str(targets["record"])},
                "gunicorn_only": gunicorn_only,
            }
        )
    return listed


# "Select all" in the admin: one record ticked (Django asks for one) and select_across, so the
# action gets everything the filters chose.
EXPORT_FORM = {"action": "export_csv", "select_across": "1", "index": "0"}


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


# ------------------------------------------------------------------------------------------------
# In process: a child with the production environment and Django's test Client
# ------------------------------------------------------------------------------------------------
def child(options) -> None:
    import django

    sys.path.insert(0, str(bench.ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "viewsite.settings")
    django.setup()
    import logging

    from django.contrib.auth import get_user_model
    from django.test import Client

    logging.disable(logging.WARNING)
    task = json.loads(options.child)
    client = Client(HTTP_HOST="127.0.0.1")
    if task["what"] == "predict":
        print(json.dumps({"predict_ms": predict_in_process(client, task["count"])}))
        return
    if task["what"] == "commands":
        # Loaded first, as a worker that has shown a card has it: what a command adds is then
        # its own reading of the trail, not scipy's import (about 60 MB and a second).
        from scipy import stats  # noqa: F401

        # Named without the date --since is given, which moves with the newest row.
        named = {" ".join(args[:3]): run_command(args) for args in task["commands"]}
        print(json.dumps(named))
        return
    auditor = get_user_model().objects.filter(username="bench-auditor").first()
    if auditor is None:
        auditor = get_user_model().objects.create_superuser(
            "bench-auditor", password=secrets.token_urlsafe(16)
        )
    client.force_login(auditor, backend="django.contrib.auth.backends.ModelBackend")
    results = {"session": client.cookies["sessionid"].value}
    walked = any(operation["path"] == "DEEP" for operation in task["operations"])
    deep = walk_api_pages(client, task["deep_page"]) if walked else None
    results["deep_path"] = deep
    for operation in task["operations"]:
        path = deep if operation["path"] == "DEEP" else operation["path"]
        if operation["kind"] == "page":
            results[operation["name"]] = time_page(client, path, task["repeat"])
        elif operation["gunicorn_only"]:
            results[operation["name"]] = None
        else:
            results[operation["name"]] = export_in_process(client, path, operation["form"])
    print(json.dumps(results))


def accept(path: str) -> dict:
    """The API answers JSON to what asks for it (a browser gets the browsable page)."""
    return {"Accept": "application/json"} if path.startswith("/api/") else {}


def runs(first_seconds: float, repeat: int) -> int:
    """More runs after the warm-up, unless it took longer than SLOW_S: then it is the figure."""
    return 0 if first_seconds > SLOW_S else repeat


def time_page(client, path: str, repeat: int) -> float:
    samples = []
    while len(samples) < 1 + runs(samples[0] if samples else 0, repeat):
        started = time.perf_counter()
        response = client.get(path, secure=True, headers=accept(path))
        content = response.content
        samples.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}: {content[:300]!r}")
    return median_ms(samples[1:] or samples)


def walk_api_pages(client, deep_page: int) -> str:
    """Follows `next` deep_page - 1 times, checking that no record comes twice; returns the
    path of the last page."""
    path, seen = "/api/predictions/history/", set()
    for _ in range(deep_page - 1):
        response = client.get(path, secure=True, headers=accept(path))
        if response.status_code != 200:
            raise SystemExit(
                f"GET {path} answered {response.status_code}: {response.content[:300]!r}"
            )
        page = response.json()
        ids = [record["id"] for record in page["results"]]
        if seen.intersection(ids):
            raise SystemExit(f"the API's pages repeat records at {path}")
        seen.update(ids)
        parts = urllib.parse.urlsplit(page["next"])
        path = f"{parts.path}?{parts.query}"
    return path


def export_in_process(client, path: str, form: dict) -> dict:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    response = client.post(path, form, secure=True)
    if response.status_code != 200 or not response.streaming:
        raise SystemExit(f"export {path} answered {response.status_code}")
    lines = size = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
        size += len(chunk)
    seconds = time.perf_counter() - started
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    return {"rows": lines - 1, "seconds": seconds, "mb": size / 1e6, "grown_mb": grown}


def run_command(args: list[str]) -> dict:
    """One management command, run once in this process: its seconds, and how far the process's
    peak memory grew while it ran (what a command that streams the trail keeps flat)."""
    from django.core.management import CommandError, call_command

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    status = 0
    with open(os.devnull, "w") as discarded:
        try:
            call_command(*args, stdout=discarded, stderr=discarded)
        except SystemExit as exit:  # drift exits 1 when a feature has drifted, for cron
            status = exit.code
        except CommandError as error:
            raise SystemExit(f"manage.py {' '.join(args)}: {error}") from error
    seconds = time.perf_counter() - started
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    return {"seconds": seconds, "grown_mb": grown, "status": status}


def commands(targets: dict) -> list[list[str]]:
    """The trail read as a mirror: drift of the oldest and the active version (every answer, at
    the checkpoint plus the rows since; and a month's window), and the candidate replayed on
    everything the active version served, outcomes included."""
    return [
        ["drift", "v1"],
        ["drift", f"v{targets['active']}"],
        ["drift", f"v{targets['active']}", "--since", targets["month_ago"]],
        ["replay", f"v{targets['candidate']}"],
    ]


def predict_in_process(client, count: int) -> float:
    samples = []
    for _ in range(count + 20):
        started = time.perf_counter()
        response = client.post(
            "/api/predictions/", bench.ONE, content_type="application/json", secure=True
        )
        samples.append(time.perf_counter() - started)
        if response.status_code != 201:
            raise SystemExit(f"a prediction answered {response.status_code}")
    return median_ms(samples[20:])


def installed_site(options, url: str) -> "bench.Site":
    """viewsite on the throwaway PostgreSQL database at `url`: migrated, its static files
    collected, three versions trained (the last one active)."""
    site = bench.Site("PostgreSQL", options.work / "var", url)
    site.var_dir.mkdir(parents=True)
    bench.say(f"database {urllib.parse.urlsplit(url).path[1:]}; work folder {options.work}")
    site.manage(options, "collectstatic", "--noinput")
    site.manage(options, "migrate", "--noinput")
    for _ in range(3):
        site.manage(options, "retrain")
    return site


def run_child(site, options, task: dict, script: str = __file__, timeout: int = 7200) -> dict:
    """`script --child TASK` in the site's environment (this file's, or another bench's that
    shares its loader); its last line of output, as JSON."""
    result = subprocess.run(
        [bench.PYTHON, script, "--child", json.dumps(task)],
        cwd=bench.ROOT,
        env=site.env(options),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise bench.BenchError(f"in-process child: {result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------
# Through gunicorn
# ------------------------------------------------------------------------------------------------
def through_gunicorn(server, task: dict, session: str, deep: str) -> dict:
    cookie = f"sessionid={session}; csrftoken={server.csrf_token}"
    headers = {"Host": server.origin, **bench.PROXY_HEADERS, "Cookie": cookie}
    results = {}
    for operation in task["operations"]:
        path = deep if operation["path"] == "DEEP" else operation["path"]
        if operation["kind"] == "page":
            samples = []
            while len(samples) < 1 + runs(samples[0] if samples else 0, task["repeat"]):
                started = time.perf_counter()
                status, _, body = bench.request(
                    server.port,
                    "GET",
                    path,
                    headers={**headers, **accept(path)},
                    timeout=EXPORT_TIMEOUT_S,
                )
                samples.append(time.perf_counter() - started)
                if status != 200:
                    raise bench.BenchError(f"GET {path} answered {status}: {body[:300]!r}")
            results[operation["name"]] = median_ms(samples[1:] or samples)
        else:
            results[operation["name"]] = export_through_gunicorn(
                server, path, headers, operation["form"]
            )
    results["predict_ms"] = predict_through_gunicorn(server, task["count"])
    return results


def peak_mb(server) -> dict[int, float]:
    """VmHWM (peak resident memory) of each gunicorn worker, in MB."""
    peaks = {}
    for pid in bench.worker_pids(server.process.pid):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks[pid] = int(line.split()[1]) / 1024
    return peaks


def export_through_gunicorn(server, path: str, headers: dict, form: dict) -> dict:
    form = {**form, "csrfmiddlewaretoken": server.csrf_token}
    body = urllib.parse.urlencode(form).encode()
    post = {
        **headers,
        "Content-Type": "application/x-www-form-urlencoded",
        "Referer": f"https://{server.origin}{ADMIN}",
    }
    before = peak_mb(server)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=EXPORT_TIMEOUT_S)
    started = time.perf_counter()
    try:
        connection.request("POST", path, body=body, headers=post)
        response = connection.getresponse()
        if response.status != 200:
            raise bench.BenchError(f"export {path} answered {response.status}")
        lines = size = 0
        while chunk := response.read(1 << 16):
            lines += chunk.count(b"\n")
            size += len(chunk)
    finally:
        connection.close()
    seconds = time.perf_counter() - started
    after = peak_mb(server)
    grown = max(after[pid] - before.get(pid, after[pid]) for pid in after)
    return {"rows": lines - 1, "seconds": seconds, "mb": size / 1e6, "grown_mb": grown}


def predict_through_gunicorn(server, count: int) -> float:
    body = json.dumps(bench.ONE).encode()
    headers = {"Host": server.origin, "Content-Type": "application/json", **bench.PROXY_HEADERS}
    samples = []
    for _ in range(count + 20):
        started = time.perf_counter()
        status, _, answer = bench.request(server.port, "POST", "/api/predictions/", body, headers)
        samples.append(time.perf_counter() - started)
        if status != 201:
            raise bench.BenchError(f"a prediction answered {status}: {answer[:200]!r}")
    return median_ms(samples[20:])


# ------------------------------------------------------------------------------------------------
# The data
# ------------------------------------------------------------------------------------------------
def prepare(connection) -> dict:
    versions = [
        row[0]
        for row in connection.execute("SELECT id FROM predictor_modelversion ORDER BY number")
    ]
    connection.execute(
        "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,"
        " is_staff, is_active, date_joined) SELECT '!', false, 'auditor' || i, '', '', '', false,"
        " true, now() FROM generate_series(1, %s) AS i",
        (USERS,),
    )
    users = [
        row[0]
        for row in connection.execute(
            "SELECT id FROM auth_user WHERE username LIKE 'auditor%' ORDER BY id"
        )
    ]
    now = datetime.now(ZoneInfo("UTC")).replace(microsecond=0)
    start = now - timedelta(days=365)
    # The versions are trained on the same file, so they share the range an answer is outside.
    [columns] = connection.execute(
        "SELECT training_summary -> 'columns' FROM predictor_modelversion ORDER BY number LIMIT 1"
    ).fetchone()
    ends = ("min", "max")
    ranges = {f"{name}_{end}": columns[name][end] for name in ("likes", "shares") for end in ends}
    return {"versions": versions, "users": users, "start": start, "now": now, "ranges": ranges}


def load(connection, data: dict, first: int, last: int) -> float:
    """Rows first..last of the year's trail, a million per statement, and the outcomes of one
    answer in a hundred; seconds taken."""
    started = time.perf_counter()
    newest_id = "SELECT coalesce(max(id), 0) FROM predictor_predictionrequest"
    [before] = connection.execute(newest_id).fetchone()
    connection.execute("SELECT setseed(0.13)")
    step = timedelta(days=365) / ROWS_PER_YEAR
    for chunk_first in range(first, last + 1, 1_000_000):
        chunk_last = min(last, chunk_first + 999_999)
        connection.execute(
            LOAD_SQL,
            {
                "start": data["start"],
                "step": step,
                "versions": data["versions"],
                "users": data["users"],
                "user_count": len(data["users"]),
                "period": VERSION_PERIOD,
                "first": chunk_first,
                "last": chunk_last,
                **data["ranges"],
            },
        )
        bench.say(
            f"  loaded rows {chunk_first:,}..{chunk_last:,} ({time.perf_counter() - started:.0f} s)"
        )
    # One answer in a hundred learns its real views, a little off the answer, as
    # import_outcomes would record them: what replay's paired error is measured on.
    connection.execute(
        "INSERT INTO predictor_outcome (prediction_id, views, recorded_at, source, note)"
        " SELECT id, greatest(0, round(views * (0.8 + random() * 0.4)))::bigint,"
        " created_at + interval '7 days', 'import', 'bench'"
        " FROM predictor_predictionrequest"
        " WHERE id > %s AND accepted AND channel <> 'preview' AND id %% 100 = 0",
        (before,),
    )
    connection.execute("VACUUM ANALYZE predictor_predictionrequest")
    connection.execute("VACUUM ANALYZE predictor_outcome")
    return time.perf_counter() - started


def targets(connection, data: dict, size: int, zone: ZoneInfo) -> dict:
    """What the operations look for, present at every size: a day in the first five weeks,
    the oldest version, an IP, a user, a record in the middle."""
    step = timedelta(days=365) / ROWS_PER_YEAR
    day = (data["start"] + step * 500_000).astimezone(zone).date()
    newest = (data["start"] + step * size).astimezone(zone)
    record = connection.execute(
        "SELECT id FROM predictor_predictionrequest ORDER BY id OFFSET %s LIMIT 1", (size // 2,)
    ).fetchone()[0]
    return {
        "day": day.isoformat(),
        "year_start": f"{newest.year}-01-01",
        "old_version": data["versions"][0],
        "ip": "10.3.7.5",
        "user": "auditor7",
        "record": record,
        # Versions are numbered from 1: the three that served, then the candidate.
        "active": len(data["versions"]),
        "candidate": len(data["versions"]) + 1,
        "month_ago": (newest - timedelta(days=30)).date().isoformat(),
        # The count stops at 100,000 rows (predictor.admin.BoundedCountPaginator): page 1,000.
        # The admin's last page: predictor.admin.BoundedCountPaginator.COUNT_BOUND / list_per_page.
        "deepest_page": min(size, 10_000) // 50,
    }


# ------------------------------------------------------------------------------------------------
# The tables
# ------------------------------------------------------------------------------------------------
def figure(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return f"{value['rows'] / value['seconds']:,.0f} rows/s"
    return f"{value:,.1f} ms"


def goal_met(name: str, value, empty_ms: float | None = None) -> tuple[str, bool]:
    if name == "prediction (API POST)":
        return f"≤ {1 + PREDICTION_TOLERANCE:.1f} × empty", value <= empty_ms * (
            1 + PREDICTION_TOLERANCE
        )
    if isinstance(value, dict):
        ok = value["rows"] / value["seconds"] >= EXPORT_GOAL_ROWS_PER_S
        ok = ok and value["grown_mb"] <= EXPORT_GOAL_MB
        return f"≥ {EXPORT_GOAL_ROWS_PER_S:,} rows/s, +≤{EXPORT_GOAL_MB:.0f} MB", ok
    return f"< {PAGE_GOAL_MS:.0f} ms", value < PAGE_GOAL_MS


def print_tables(results: dict, sizes: list[int], names: list[str]) -> None:
    where = ("in process", "gunicorn")
    for size in sizes:
        bench.say(f"\nThe audit trail at {size:,} rows (median of {results['repeat']} runs)")
        bench.say(f"{'operation':36}{'in process':>18}{'gunicorn':>18}")
        for name in names:
            cells = [figure(results[size][side][name]) for side in where]
            bench.say(f"{name:36}{cells[0]:>18}{cells[1]:>18}")
        for name in names:
            for side in where:
                value = results[size][side][name]
                if isinstance(value, dict):
                    bench.say(
                        f"  {name} ({side}): {value['rows']:,} rows, {value['mb']:,.0f} MB in "
                        f"{value['seconds']:,.1f} s, peak memory +{value['grown_mb']:,.0f} MB"
                    )
    last = sizes[-1]
    header = "".join(f"{f'{size:,} rows':>18}" for size in sizes)
    for side in where:
        bench.say(f"\nSide by side, {side}")
        bench.say(f"{'operation':36}{header}{'goal':>30}  met?")
        empty = results["empty"][side]
        rows = [*names, "prediction (API POST)"]
        for name in rows:
            values = [results[size][side][name] for size in sizes]
            if values[-1] is None:
                bench.say(f"{name:36}{''.join(f'{figure(v):>18}' for v in values)}")
                continue
            goal, ok = goal_met(name, values[-1], empty)
            cells = "".join(f"{figure(value):>18}" for value in values)
            bench.say(f"{name:36}{cells}{goal:>30}  {bench.verdict(ok)}")
        bench.say(f"{'prediction on the empty table':36}{figure(empty):>18}")
    bench.say(f"\nGoals are checked at {last:,} rows.")


def print_commands(results: dict, sizes: list[int]) -> None:
    """The commands that read the trail whole: seconds, and the peak memory they added."""
    header = "".join(f"{f'{size:,} rows':>22}" for size in sizes)
    bench.say(f"\nCommands, run once each in process (seconds, peak memory added){'':4}")
    bench.say(f"{'command':36}{header}")
    for command in results[sizes[-1]]["commands"]:
        cells = "".join(
            f"{results[size]['commands'][command]['seconds']:>9,.1f} s "
            f"+{results[size]['commands'][command]['grown_mb']:>6,.0f} MB"
            for size in sizes
        )
        bench.say(f"manage.py {command:26}{cells}")


# ------------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="rows, ascending")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per page (median)")
    parser.add_argument("--deep-page", type=int, default=API_DEEP_PAGE, help="API page timed")
    parser.add_argument("--predictions", type=int, default=200, help="timed predictions")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--only",
        type=lambda names: names.split(","),
        default=[],
        help="time only the pages whose names contain one of these (comma-separated), e.g. "
        "'model card'; the commands are always timed",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    import psycopg

    sizes = sorted(int(size) for size in args.sizes.split(","))
    options = bench.bench_options([], "viewsite-bench-audit-")
    options.log_level = "WARNING"
    options.redis_url = ""
    results: dict = {"repeat": args.repeat}
    names: list[str] = []
    with ExitStack() as stack:
        url = stack.enter_context(bench.postgres_database(args.postgres_url))
        site = installed_site(options, url)
        zone = ZoneInfo(site.env(options).get("DJANGO_TIME_ZONE", "Asia/Shanghai"))
        connection = stack.enter_context(psycopg.connect(url, autocommit=True))
        data = prepare(connection)
        # The challenger: trained on the same file, stored, not switched on, and replayed on
        # what the active version served.
        site.manage(options, "retrain", "--no-activate")
        empty = {"what": "predict", "count": args.predictions}
        results["empty"] = {"in process": run_child(site, options, empty)["predict_ms"]}
        with site.gunicorn(options) as server:
            results["empty"]["gunicorn"] = predict_through_gunicorn(server, args.predictions)
        bench.say(f"empty table: one prediction {results['empty']}")
        loaded = 0
        for size in sizes:
            seconds = load(connection, data, loaded + 1, size)
            loaded = size
            bench.say(f"{size:,} rows loaded and analysed in {seconds:.0f} s")
            # As the timer does every ten minutes: the seal also moves the served counts'
            # checkpoint, so the model card and the version lists sum only the rows since.
            started = time.perf_counter()
            site.manage(options, "seal_audit")
            bench.say(f"sealed in {time.perf_counter() - started:.0f} s")
            aims = targets(connection, data, size, zone)
            timed = {"what": "commands", "commands": commands(aims)}
            ran = run_child(site, options, timed)
            task = {
                "what": "operations",
                "operations": [
                    operation
                    for operation in operations(aims)
                    if not args.only or any(part in operation["name"] for part in args.only)
                ],
                "repeat": args.repeat,
                "count": args.predictions,
                "deep_page": args.deep_page,
            }
            names = [operation["name"] for operation in task["operations"]]
            inside = run_child(site, options, task)
            inside["predict_ms"] = run_child(site, options, empty)["predict_ms"]
            with site.gunicorn(options) as server:
                outside = through_gunicorn(server, task, inside["session"], inside["deep_path"])
            for side in (inside, outside):
                side["prediction (API POST)"] = side["predict_ms"]
            results[size] = {"in process": inside, "gunicorn": outside, "commands": ran}
            print_tables(results, sizes[: sizes.index(size) + 1], names)
            print_commands(results, sizes[: sizes.index(size) + 1])
    (options.work / "results.json").write_text(json.dumps(results, indent=1, default=str))
    if not args.keep:
        subprocess.run(["rm", "-rf", str(options.work)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
