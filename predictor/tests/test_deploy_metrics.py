"""/metrics in the deployment, read by a real Prometheus (Debian's) through nginx, with TLS and
the bearer token, from gunicorn's two workers. Run by `make e2e`.

Requests go through nginx from several threads at once, so both workers answer some; the
counts Prometheus scraped must equal what the clients saw, which they can only do if /metrics
adds up every worker's (prometheus-client's multiprocess mode).
"""

import json
import re
import secrets
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from . import deployment
from .live import free_port, stop

pytestmark = pytest.mark.deploy

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
TOKEN = secrets.token_urlsafe(32)
THREADS = 4


@contextmanager
def prometheus(site: deployment.Site, root: Path, timeout: float = 30.0):
    """Prometheus scraping the site's /metrics through nginx every second; yields its base URL."""
    root.mkdir()
    config = root / "prometheus.yml"
    # JSON is YAML: no quoting to get wrong.
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "viewsite",
                        "scheme": "https",
                        "metrics_path": "/metrics",
                        "authorization": {"type": "Bearer", "credentials": TOKEN},
                        "tls_config": {"ca_file": str(site.certificate)},
                        "static_configs": [{"targets": [f"localhost:{site.https_port}"]}],
                    }
                ],
            }
        )
    )
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with (root / "prometheus.log").open("ab") as log:
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={root / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                log_text = (root / "prometheus.log").read_text()
                raise RuntimeError(f"prometheus exited with {process.returncode}:\n{log_text}")
            try:
                with urllib.request.urlopen(f"{base_url}/-/ready", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield base_url
    finally:
        stop(process)


def query(base_url: str, promql: str, at: float | None = None) -> list[dict]:
    params = {"query": promql, **({"time": repr(at)} if at is not None else {})}
    url = f"{base_url}/api/v1/query?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        answer = json.loads(response.read())
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def by(results: list[dict], *labels: str) -> dict:
    return {
        tuple(result["metric"].get(label, "") for label in labels): float(result["value"][1])
        for result in results
    }


def scrape_after(base_url: str, moment: float, timeout: float = 30.0) -> float:
    """The time of the first successful scrape after `moment`: its samples count everything
    answered before it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scraped = query(base_url, 'timestamp(up{job="viewsite"} == 1)')
        if scraped and float(scraped[0]["value"][1]) > moment:
            return float(scraped[0]["value"][1])
        time.sleep(0.3)
    raise AssertionError(f"no successful scrape after the requests: {query(base_url, 'up')}")


def send(site: deployment.Site, share: int) -> Counter:
    """One client's share of the traffic; returns what it saw, by (door, status)."""
    browser = deployment.Browser(site)
    seen = Counter()

    def form(fields: dict) -> None:
        status, _, page = browser.request("/")
        seen["form", status] += 1
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.decode()).group(1)
        body = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token}).encode()
        status, _, _ = browser.request("/", data=body, headers={"Referer": f"{site.base_url}/"})
        seen["form", status] += 1

    def api(body: bytes) -> None:
        status, _, _ = browser.request(
            "/api/predictions/", data=body, headers={"Content-Type": "application/json"}
        )
        seen["api", status] += 1

    for n in range(share):
        form({"likes": 100 + n, "shares": 50})
        api(json.dumps({"likes": 200 + n, "shares": 70}).encode())
        api(json.dumps([{"likes": n, "shares": n}, {"likes": n + 1, "shares": 2}]).encode())
        api(json.dumps({"likes": -1, "shares": 70}).encode())
    form({"likes": "lots", "shares": 1})
    api(b"{not json")
    return seen


def test_prometheus_scrapes_every_workers_counts_through_nginx_and_others_are_refused(tmp_path):
    with deployment.running_site(tmp_path / "site", VIEWSITE_METRICS_TOKEN=TOKEN) as site:
        browser = deployment.Browser(site)
        # Without the token, or with another, nobody reads the metrics, from anywhere.
        for headers in ({}, {"Authorization": f"Bearer {TOKEN[:-1]}x"}, {"Authorization": TOKEN}):
            status, _, body = browser.request("/metrics", headers=headers)
            assert status == 403, headers
            assert b"viewsite_" not in body

        with prometheus(site, tmp_path / "prometheus") as prometheus_url:
            share = 5
            with ThreadPoolExecutor(THREADS) as pool:
                seen = sum(pool.map(lambda _: send(site, share), range(THREADS)), Counter())
            sent_at = time.time()
            at = scrape_after(prometheus_url, sent_at)

            def counts(promql: str, *labels: str) -> dict:
                return by(query(prometheus_url, promql, at), *labels)

            clients = THREADS
            assert counts("sum by (door) (viewsite_predictions_total)", "door") == {
                ("form",): clients * share,
                ("api",): clients * share * 3,  # one single and a batch of two each round
            }
            assert counts("sum by (version) (viewsite_predictions_total)", "version") == {
                ("v1",): clients * share * 4
            }
            assert counts("sum by (door, reason) (viewsite_refusals_total)", "door", "reason") == {
                ("form", "invalid_input"): clients,
                ("api", "invalid_input"): clients * share,
                ("api", "parse_error"): clients,
            }
            requests = counts(
                'sum by (door, status) (viewsite_requests_total{door=~"form|api"})',
                "door",
                "status",
            )
            assert requests == {(door, str(status)): n for (door, status), n in seen.items()}
            assert seen["form", 200] == clients * (2 * share + 1)  # pages and answers
            assert counts(
                'sum by (door) (viewsite_request_duration_seconds_count{door=~"form|api"})', "door"
            ) == {
                ("form",): seen["form", 200] + seen["form", 400],
                ("api",): sum(n for (door, _), n in seen.items() if door == "api"),
            }
            assert counts("viewsite_active_model_info", "version") == {("v1",): 1}
            assert counts("viewsite_audit_write_failures_total", "door") == {}

        # Both workers answered: each one's own file holds some of the predictions, and
        # Prometheus saw their sum.
        per_worker = {}
        for path in site.var_dir.glob("prometheus/*/counter_*.db"):
            predictions = sum(
                sample.value
                for metric in MultiProcessCollector.merge([str(path)], accumulate=False)
                if metric.name == "viewsite_predictions"
                for sample in metric.samples
                if sample.name == "viewsite_predictions_total"
            )
            if predictions:
                per_worker[path.name] = predictions
        assert len(per_worker) >= 2, per_worker
        assert sum(per_worker.values()) == clients * share * 4
