"""Which gunicorn workers serve viewsite best here: sync and gthread, a few counts, both databases.

deploy/gunicorn.conf.py's worker class and count are chosen with this (deploy/README.md has the
figures). Each configuration serves `make bench`'s API and form load on SQLite and PostgreSQL,
as deployed but for GUNICORN_WORKERS, GUNICORN_WORKER_CLASS and GUNICORN_THREADS; the
configurations take turns, round after round, so a busy spell on this shared machine falls on
all of them alike, and the table gives each one's median over the rounds, with its p99.

    .venv/bin/python bench/workers.py [--rounds 3] [--duration 5] [--skip-postgres]
        [--configs sync:2,sync:5,gthread:2x4]
"""

import argparse
import shutil
import statistics
import sys
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# bench/run.py: the environment, Redis, PostgreSQL, the load and its checks, as `make bench`.
import run as bench

DEFAULT_CONFIGS = "sync:2,sync:3,sync:5,gthread:2x2,gthread:2x4,gthread:2x8,gthread:3x4,gthread:4x2"


def parse_config(text: str) -> bench.Workers:
    """`sync:3` or `gthread:2x4` (processes x threads)."""
    worker_class, _, count = text.partition(":")
    processes, _, threads = count.partition("x")
    return bench.Workers(int(processes), worker_class, int(threads or 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run (5)")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help=DEFAULT_CONFIGS)
    options = parser.parse_args()
    configs = [parse_config(text) for text in options.configs.split(",")]

    settings = bench.bench_options(
        ["--skip-postgres"] if options.skip_postgres else [], "viewsite-workers-"
    )
    settings.runs, settings.duration, settings.warmup = 1, options.duration, options.warmup
    # (config, database, scenario) -> runs
    runs: dict[tuple[bench.Workers, str, str], list[bench.Run]] = {}
    try:
        with ExitStack() as stack:
            settings.redis_url = stack.enter_context(bench.redis_server(settings))
            sites = [bench.Site("SQLite", settings.work / "sqlite")]
            if not options.skip_postgres:
                url = stack.enter_context(bench.postgres_database(settings.postgres_url))
                sites.append(bench.Site("PostgreSQL", settings.work / "postgresql", url))
            sites[0].manage(settings, "collectstatic", "--noinput")
            for site in sites:
                site.install(settings)
            for number in range(1, options.rounds + 1):
                bench.say(f"\nRound {number} of {options.rounds}")
                for config in configs:
                    settings.workers = config
                    settings.gunicorn_overrides = {
                        "GUNICORN_WORKERS": str(config.processes),
                        "GUNICORN_WORKER_CLASS": config.worker_class,
                        "GUNICORN_THREADS": str(config.threads),
                    }
                    for site in sites:
                        with site.gunicorn(settings) as server:
                            for scenario in (bench.api_scenario, bench.form_scenario):
                                result = bench.load(
                                    server, scenario(server), settings, settings.work
                                )
                                key = (config, site.database, result.scenario)
                                runs.setdefault(key, []).extend(result.runs)
    except bench.BenchError as error:
        bench.say(f"\nworkers: {error}; logs kept in {settings.work}")
        return 1
    shutil.rmtree(settings.work, ignore_errors=True)

    databases = [site.database for site in sites]
    header = ["workers"]
    for database in databases:
        header += [f"{database} api", f"{database} form"]
    rows = [tuple(header)]
    for config in configs:
        row = [str(config)]
        for database in databases:
            for scenario in ("api", "form"):
                done = runs[(config, database, scenario)]
                rps = statistics.median(run.rps for run in done)
                p99 = statistics.median(run.p99_ms for run in done)
                row.append(f"{rps:.0f} req/s (p99 {p99:.0f} ms)")
        rows.append(tuple(row))
    bench.say(
        f"\nMedian of {options.rounds} rounds of {options.duration:g} s, "
        f"{bench.CONNECTIONS} connections:\n"
    )
    bench.say(bench.columns(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
