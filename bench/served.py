"""The served figures at ten million audit rows: the model card and the version lists with no
checkpoint (every row counted from the start), at a checkpoint, and with rows written since.

A throwaway PostgreSQL database is migrated, given three versions by `manage.py retrain` and
loaded by SQL with `--rows` rows of bench/audit.py's year of trail (its mix of doors, refusals,
batches and versions; `extrapolated` set as predict sets it). In a child process with the
production environment, Django's test Client (logged in as a superuser) times the oldest
version's model card, the admin's and the API's version lists, and the card's figures alone (one
statement): the median of --repeat runs after a warm-up. In turn: with no checkpoint; after
`services.served.advance` to the newest row (timed: the first checkpoint sums every row); after
--since more rows loaded; after advancing past those (timed: what each seal adds). The database
is dropped whatever happens.

    .venv/bin/python bench/served.py [--rows 10000000] [--since 10000,100000] [--repeat 5]
"""

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import audit
import run as bench

PAGES = {
    "model card, oldest version": "/models/v1/",
    "admin model versions": "/admin/predictor/modelversion/",
    "API model versions": "/api/models/",
}


def child(task: dict) -> dict:
    import django

    sys.path.insert(0, str(bench.ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "viewsite.settings")
    django.setup()
    import logging

    from django.contrib.auth import get_user_model
    from django.test import Client

    from predictor.models import ModelVersion, PredictionRequest
    from predictor.services import served

    logging.disable(logging.WARNING)
    results = {}
    if task["advance"]:
        newest = PredictionRequest.objects.order_by("-pk").values_list("pk", flat=True).first()
        started = time.perf_counter()
        served.advance(through_id=newest)
        results["advance_ms"] = (time.perf_counter() - started) * 1000
    auditor = get_user_model().objects.filter(username="bench-auditor").first()
    if auditor is None:
        auditor = get_user_model().objects.create_superuser(
            "bench-auditor", password=secrets.token_urlsafe(16)
        )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(auditor, backend="django.contrib.auth.backends.ModelBackend")

    def timed(call) -> float:
        samples = []
        for _ in range(task["repeat"] + 1):
            started = time.perf_counter()
            call()
            samples.append(time.perf_counter() - started)
        return statistics.median(samples[1:]) * 1000

    for name, path in PAGES.items():

        def page(path=path):
            response = client.get(path, secure=True, headers=audit.accept(path))
            if response.status_code != 200:
                raise SystemExit(f"GET {path} answered {response.status_code}")

        results[name] = timed(page)
    oldest = ModelVersion.objects.order_by("number").values_list("pk", flat=True).first()
    figures = ModelVersion.objects.with_live_error().with_served_extrapolated().filter(pk=oldest)
    results["the card's figures (one statement)"] = timed(
        lambda: list(figures.values_list("live_predictions", "live_extrapolated"))
    )
    results["figures"] = list(figures.values_list("live_predictions", "live_extrapolated").get())
    return results


def counted(connection, version_pk: int) -> list[int]:
    """The oldest version's figures counted by plain SQL, to check the child's against."""
    return list(
        connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE extrapolated) FROM predictor_predictionrequest"
            " WHERE model_version_id = %s AND accepted AND channel <> 'preview'",
            (version_pk,),
        ).fetchone()
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--since", default="10000,100000", help="rows after the checkpoint")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    import psycopg

    options = bench.bench_options([], "viewsite-bench-served-")
    options.log_level = "WARNING"
    options.redis_url = ""
    phases = []
    with ExitStack() as stack:
        url = stack.enter_context(bench.postgres_database(args.postgres_url))
        site = audit.installed_site(options, url)
        connection = stack.enter_context(psycopg.connect(url, autocommit=True))
        data = audit.prepare(connection)
        seconds = audit.load(connection, data, 1, args.rows)
        bench.say(f"{args.rows:,} rows loaded and analysed in {seconds:.0f} s")
        task = {"repeat": args.repeat, "advance": False}

        def phase(name: str, **changes) -> None:
            result = audit.run_child(
                site, options, {**task, **changes}, script=__file__, timeout=3600
            )
            expected = counted(connection, data["versions"][0])
            if result["figures"] != expected:
                raise bench.BenchError(f"{name}: figures {result['figures']} != {expected}")
            phases.append((name, result))
            bench.say(f"{name}: {json.dumps(result)}")

        phase("no checkpoint: every row counted")
        phase("first checkpoint (sums every row), 0 rows since", advance=True)
        loaded = args.rows
        for since in (int(count) for count in args.since.split(",")):
            audit.load(connection, data, loaded + 1, args.rows + since)
            loaded = args.rows + since
            phase(f"checkpoint, {since:,} rows since")
        phase("next checkpoint (sums the rows since), 0 rows since", advance=True)
    subprocess.run(["rm", "-rf", str(options.work)], check=False)
    names = [*PAGES, "the card's figures (one statement)"]
    bench.say(f"\nServed figures at {args.rows:,} audit rows, PostgreSQL, in process, ms")
    bench.say(f"{'':52}" + "".join(f"{name[:22]:>24}" for name in names) + f"{'advance':>12}")
    for name, result in phases:
        advance = f"{result['advance_ms']:,.0f}" if "advance_ms" in result else ""
        cells = "".join(f"{result[column]:>24,.1f}" for column in names)
        bench.say(f"{name:52}{cells}{advance:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
