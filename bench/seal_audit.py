"""`make bench-seal`: how long `manage.py seal_audit` and `verify_audit` take on a million rows.

Creates a throwaway PostgreSQL database, migrates it, loads the audit trail by SQL
(generate_series: 1,000,000 prediction requests with every column filled as the API fills it, and
100,000 outcomes), then times, each as its own `manage.py` process as the timer runs it: the first
seal of everything, a verification of everything, a seal of 10,000 rows written since (what the
timer does every few minutes), and a verification again; with, as the reference in the same run,
the first seal hashed in Python (--row-encoding json, the SQLite path) and a plain read of every
row through the ORM. The database is dropped whatever happens.
Standard library and psycopg only.

    .venv/bin/python bench/seal_audit.py [--rows 1000000] [--outcomes 100000] [--postgres-url URL]
"""

import argparse
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench

ROOT = bench.ROOT
PYTHON = ROOT / ".venv" / "bin" / "python"

# Every column as the API writes it for an answered single request; `now() - 1 hour` so that the
# default lag of the timer's seal_audit would seal them too.
PREDICTIONS_SQL = """
INSERT INTO predictor_predictionrequest (
    created_at, channel, accepted, raw_input, likes, shares, views, views_lower, views_upper,
    errors, model_version_id, latency_ms, client_ip, user_agent, user_id, batch_id, batch_index
)
SELECT now() - interval '1 hour' + g * interval '1 millisecond', 'api', true,
       jsonb_build_object('likes', g %% 20000, 'shares', (g * 7) %% 20000),
       g %% 20000, (g * 7) %% 20000, 83.94 * (g %% 20000) + 62.51 * ((g * 7) %% 20000) - 14432.22,
       NULL, NULL, NULL, NULL, 0.05 + (g %% 100) / 1000.0, ('203.0.113.' || (g %% 250))::inet,
       'python-requests/2.32', NULL, NULL, NULL
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
"""

OUTCOMES_SQL = """
INSERT INTO predictor_outcome (prediction_id, views, recorded_at, source, user_id, note)
SELECT p.id, 1000 + p.id %% 90000, now() - interval '30 minutes', 'import', NULL, 'bench'
FROM predictor_predictionrequest AS p
ORDER BY p.id
LIMIT %(count)s
"""


# The reference: reading every column of every sealed row through the ORM as seal_audit does,
# in one process, without hashing. What sealing adds is the difference.
READ_REFERENCE = """
import time
from predictor.services import sealing
started = time.perf_counter()
for table in sealing.SEALED_TABLES:
    for row in sealing.rows_between(table, table.columns(), 0, 2**62):
        pass
print(time.perf_counter() - started)
"""


def manage(url: str, *args: str, output: list | None = None) -> float:
    """Run one manage.py command as the timer would; its wall-clock seconds."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SECRET_KEY": "bench-only-" + secrets.token_hex(16),
        "DJANGO_DEBUG": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        "VIEWSITE_AUDIT_SEAL_KEY": "bench-only-seal-key",
    }
    started = time.perf_counter()
    completed = subprocess.run(
        [str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{completed.stdout}{completed.stderr}")
    if output is not None:
        output.append(completed.stdout)
    return seconds


def load(url: str, first: int, last: int, outcomes: int = 0) -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(PREDICTIONS_SQL, {"first": first, "last": last})
        if outcomes:
            db.execute(OUTCOMES_SQL, {"count": outcomes})
        db.execute("VACUUM ANALYZE predictor_predictionrequest")
        db.execute("VACUUM ANALYZE predictor_outcome")
    return time.perf_counter() - started


def seal_bytes(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as db:
        [(size,)] = db.execute(
            "SELECT coalesce(sum(octet_length(prediction_hashes) + octet_length(outcome_hashes)"
            " + octet_length(prediction_ids) + octet_length(outcome_ids)), 0)"
            " FROM predictor_auditseal"
        ).fetchall()
    return size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--outcomes", type=int, default=100_000)
    parser.add_argument("--increment", type=int, default=10_000)
    parser.add_argument(
        "--postgres-url",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL database to CREATE/DROP the throwaway database from",
    )
    options = parser.parse_args()

    figures = []

    def report(what: str, seconds: float, rows: int | None = None) -> None:
        rate = f"{rows / seconds:>12,.0f} rows/s" if rows else ""
        figures.append(f"  {what:<52}{seconds:>8.2f} s {rate}")
        print(figures[-1], flush=True)

    load_average = ", ".join(f"{figure:.1f}" for figure in os.getloadavg())
    print(
        f"PostgreSQL, {options.rows:,} prediction requests and {options.outcomes:,} outcomes; "
        f"{os.cpu_count()} cores, load average {load_average} at the start:"
    )
    with bench.postgres_database(options.postgres_url) as url:
        report("migrate (empty database)", manage(url, "migrate", "--noinput"))
        report(
            f"load {options.rows:,} + {options.outcomes:,} rows by SQL",
            load(url, 1, options.rows, options.outcomes),
        )
        total = options.rows + options.outcomes
        report("manage.py check (Django start-up, for reference)", manage(url, "check"))
        read = []
        manage(url, "shell", "-c", READ_REFERENCE, output=read)
        report(
            "reference: read every row through the ORM, no hashing",
            float(read[0].split()[-1]),
            total,
        )
        python_path = manage(url, "seal_audit", "--lag", "0", "--row-encoding", "json", "--dry-run")
        report("reference: the first seal hashed in Python (json)", python_path, total)
        first_seal = manage(url, "seal_audit", "--lag", "0")
        report("seal_audit: the first seal, every row (postgresql)", first_seal, total)
        figures.append(
            f"  the first seal, hashed by PostgreSQL: {python_path / first_seal:.1f}x faster"
        )
        print(figures[-1], flush=True)
        report("verify_audit: every row", manage(url, "verify_audit"), total)
        start = options.rows + 1
        load(url, start, start + options.increment - 1)
        report(
            f"seal_audit: {options.increment:,} rows written since",
            manage(url, "seal_audit", "--lag", "0"),
            options.increment,
        )
        report(
            "verify_audit: every row, two seals",
            manage(url, "verify_audit"),
            total + options.increment,
        )
        size = seal_bytes(url)
        figures.append(f"  seals' stored ids and row hashes: {size / 1e6:,.1f} MB")
        print(figures[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
