"""A property-based fuzz run of the whole API from its own OpenAPI schema (schemathesis).

Run by `make fuzz`: positive and negative data, a fixed seed and a bounded number of cases per
operation, against gunicorn with the production settings. It passes when no answer is a 5xx, every
answer matches the schema (status, content type, body), and every prediction request is audited.
"""

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from . import deployment, live

pytestmark = pytest.mark.fuzz

SEED = 20240601
MAX_EXAMPLES = int(os.environ.get("VIEWSITE_FUZZ_EXAMPLES", "60"))
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance"
)


def run_schemathesis(base_url: str, report: Path, *headers: str) -> subprocess.CompletedProcess:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{base_url}/api/schema/",
        f"--checks={CHECKS}",
        "--mode=all",
        f"--max-examples={MAX_EXAMPLES}",
        f"--seed={SEED}",
        "--workers=1",
        "--report=har",
        f"--report-har-path={report}",
        "--request-timeout=30",
        "--suppress-health-check=all",
        "--continue-on-failure",
    ]
    for header in headers:
        command += ["-H", header]
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=report.parent)


def test_the_api_survives_a_schema_driven_fuzz_run_and_audits_every_prediction(tmp_path):
    gunicorn_port = live.free_port()
    site = deployment.make_site(tmp_path, upstream_ports=[gunicorn_port])
    # Throttling is on, as in production, with rates above what the fuzzer sends.
    site.env["VIEWSITE_THROTTLE_ANON_RATE"] = "100000/minute"
    site.env["VIEWSITE_THROTTLE_USER_RATE"] = "100000/minute"
    site.env["VIEWSITE_THROTTLE_PREVIEW_RATE"] = "100000/minute"
    for command in (("migrate", "--noinput"), ("collectstatic", "--noinput"), ("retrain",)):
        deployment.manage(site, *command)
    staff_token = deployment.staff_token(site)
    env = deployment.process_env(site)
    # Straight to gunicorn with the headers nginx adds: the fuzzer then sees Django's answers.
    proxy_headers = ("Host: localhost", "X-Forwarded-Proto: https")
    database = site.var_dir / "viewsite.sqlite3"
    figures = {}
    with live.gunicorn_process(env, port=gunicorn_port, log_path=tmp_path / "gunicorn.log") as (
        base_url,
        _,
    ):
        runs = {}
        access_log = tmp_path / "gunicorn.log"
        for name, extra in (("anonymous", ()), ("staff", (f"Authorization: Token {staff_token}",))):
            audited_before, log_before = audited_requests(database), access_log.stat().st_size
            runs[name] = result = run_schemathesis(
                base_url, tmp_path / f"{name}.har", *proxy_headers, *extra
            )
            (tmp_path / f"{name}.out").write_text(result.stdout)
            entries = json.loads((tmp_path / f"{name}.har").read_text())["log"]["entries"]
            with access_log.open("rb") as log:
                log.seek(log_before)
                # The server's own count: schemathesis also sends a few probes it does not report.
                # Previews are audited too (channel preview), so they count on both sides.
                text = log.read().decode(errors="replace")
                received = sum(
                    text.count(f'method=POST path="{path}"') for path in PREDICTION_PATHS
                )
            figures[name] = summarize(
                entries, received, audited_requests(database) - audited_before
            )

    for name, figure in figures.items():
        print(f"\nfuzz ({name}): " + ", ".join(f"{k} {v}" for k, v in figure.items()))
    for name, result in runs.items():
        assert result.returncode == 0, f"schemathesis ({name}):\n{result.stdout[-6000:]}"
    for figure in figures.values():
        assert figure["requests"] > 100
        assert figure["5xx"] == 0
        assert figure["audited prediction requests"] == figure["prediction requests received"]


PREDICTION_PATHS = ("/api/predictions/", "/api/predictions/preview/")


def audited_requests(database: Path) -> int:
    """Prediction requests in the audit trail: a batch is one request, however many rows."""
    with sqlite3.connect(database) as db:
        [(count,)] = db.execute(
            "SELECT count(DISTINCT coalesce(batch_id, 'single-' || id))"
            " FROM predictor_predictionrequest"
        ).fetchall()
    return count


def summarize(entries: list, received: int, audited: int) -> dict:
    statuses = Counter(entry["response"]["status"] for entry in entries)
    predictions = [
        e
        for e in entries
        if e["request"]["method"] == "POST"
        and e["request"]["url"].split("?")[0].endswith(PREDICTION_PATHS)
    ]
    return {
        "requests": len(entries),
        "statuses": dict(sorted(statuses.items())),
        "5xx": sum(n for status, n in statuses.items() if status >= 500),
        "prediction cases": len(predictions),
        "prediction requests received": received,
        "audited prediction requests": audited,
    }
