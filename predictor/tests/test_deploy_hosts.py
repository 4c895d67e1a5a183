"""Scale-out: two app hosts that share nothing but PostgreSQL (and Redis, for rate limits).

Each host is a network namespace of its own (netns.py): its own loopback, its own eth0 on a veth
cable to the root namespace, its own var folder and static files. Both run gunicorn on port 8000
of their own address, and one nginx in the root namespace lists both as its upstream. A model
trained on one host is served by the other from the database alone: no shared folder, no object
store.

How a host reaches PostgreSQL and Redis: both listen on the root namespace's 127.0.0.1, which is
not a host's 127.0.0.1. The test relays TCP to them from the root end of each host's cable
(netns.forwarding), so DATABASE_URL and REDIS_URL name an address on the host's network, as they
would on real machines, and the machine's configuration stays as it is. A Unix socket would have
worked too, but only because the namespaces share a filesystem, which is what this test says the
hosts need not do.

Run by `make e2e`; needs root (network namespaces) and iproute2.
"""

import hashlib
import json
import threading
import time
import uuid
from contextlib import contextmanager

import psycopg
import pytest

from . import deployment, live, netns

pytestmark = pytest.mark.deploy

ADMIN_DATABASE = "postgresql://postgres@127.0.0.1:5432/postgres"
GUNICORN_PORT = 8000  # the same on both hosts: their ports are no more shared than their disks
PREDICTION = b'{"likes": 10, "shares": 5}'


@contextmanager
def postgres_database(prefix: str):
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_DATABASE, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(ADMIN_DATABASE, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_two_hosts_without_a_shared_disk_follow_one_retrain_and_one_rollback_with_no_failure(
    tmp_path,
):
    with (
        postgres_database("viewsite_hosts") as database,
        netns.hosts("a", "b") as (ns_a, ns_b),
        # The database server and Redis, as each host finds them on its network.
        netns.forwarding([ns_a.gateway, ns_b.gateway], 5432, ("127.0.0.1", 5432)),
        netns.forwarding([ns_a.gateway, ns_b.gateway], 6379, ("127.0.0.1", 6379)),
    ):
        _two_hosts(tmp_path, database, ns_a, ns_b)


def _two_hosts(tmp_path, database, *namespaces):
    front = deployment.make_site(
        tmp_path / "front",
        database_url=f"postgres://postgres@127.0.0.1:5432/{database}",
        VIEWSITE_UPSTREAMS=",".join(f"{ns.address}:{GUNICORN_PORT}" for ns in namespaces),
    )

    def app_host(ns, **overrides):
        return deployment.app_host(
            front,
            tmp_path / f"host-{ns.name}",
            command_prefix=ns.command(),
            DATABASE_URL=f"postgres://postgres@{ns.gateway}:5432/{database}",
            REDIS_URL=f"redis://{ns.gateway}:6379/0",
            **overrides,
        )

    host_a = app_host(namespaces[0])
    # Only the host that retrains holds the signing key; both hold the verify key.
    host_b = app_host(namespaces[1], VIEWSITE_ARTIFACT_SIGNING_KEY="")
    hosts = [host_a, host_b]

    deployment.manage(host_a, "migrate", "--noinput")  # once per release, from one host
    for site in (front, *hosts):  # nginx's static files, and each host's own for its templates
        deployment.manage(site, "collectstatic", "--noinput")
    deployment.manage(host_a, "retrain")

    directly = [f"http://{ns.address}:{GUNICORN_PORT}/api/predictions/" for ns in namespaces]

    def ask_directly(browser, url):
        # Straight to one host, from nginx's side of its cable, with the headers nginx adds.
        status, _, body = browser.request(
            "",
            url=url,
            data=PREDICTION,
            headers={
                "Content-Type": "application/json",
                "Host": "localhost",
                "X-Forwarded-Proto": "https",
            },
        )
        return status, json.loads(body).get("model_version")

    def ask_nginx(browser):
        status, _, body = browser.request(
            "/api/predictions/", data=PREDICTION, headers={"Content-Type": "application/json"}
        )
        return status, json.loads(body).get("model_version")

    def ask_both_then_nginx(browser):
        return [ask_directly(browser, url) for url in directly] + [
            ask_nginx(browser) for _ in range(10)
        ]

    with (
        netns.gunicorn_on(
            namespaces[0],
            deployment.process_env(host_a),
            port=GUNICORN_PORT,
            log_path=tmp_path / "host-a.log",
        ),
        netns.gunicorn_on(
            namespaces[1],
            deployment.process_env(host_b),
            port=GUNICORN_PORT,
            log_path=tmp_path / "host-b.log",
        ),
        deployment.nginx(front),
    ):
        # A host reaches the database at the root end of its cable, not at its own 127.0.0.1,
        # and never the other host, whose gunicorn nginx reaches.
        assert netns.can_connect(namespaces[0], namespaces[0].gateway, 5432)
        assert not netns.can_connect(namespaces[0], "127.0.0.1", 5432)
        assert not netns.can_connect(namespaces[0], namespaces[1].address, GUNICORN_PORT)
        assert not netns.can_connect(namespaces[1], namespaces[0].address, GUNICORN_PORT)

        background = {0: [], 1: []}
        stop = threading.Event()

        def keep_asking(answers):
            browser = deployment.Browser(front)
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    answers.append((sent, *ask_nginx(browser)))
                except (OSError, ValueError) as failure:  # reset, timed out, not JSON
                    answers.append((sent, repr(failure), None))

        threads = [threading.Thread(target=keep_asking, args=(background[i],)) for i in background]
        for thread in threads:
            thread.start()
        browser = deployment.Browser(front)
        try:
            before = [ask_directly(browser, url) for url in directly]
            retrained_from = time.monotonic()
            deployment.manage(host_a, "retrain")
            retrained = time.monotonic()
            live.wait_for_activation()
            after_retrain = ask_both_then_nginx(browser)
            # The rollback, from the other host: either may run it.
            rolled_back_from = time.monotonic()
            deployment.manage(host_b, "activate", "v1")
            rolled_back = time.monotonic()
            live.wait_for_activation()
            after_rollback = ask_both_then_nginx(browser)
        finally:
            stop.set()
            for thread in threads:
                thread.join()

    assert before == [(201, "v1"), (201, "v1")]
    # Each host's requests once the bound has passed since the retrain on host A, and since the
    # rollback on host B.
    assert after_retrain == [(201, "v2")] * 12
    assert after_rollback == [(201, "v1")] * 12
    for answers in background.values():
        assert {status for _, status, _ in answers} == {201}
        # v1, then v2, then v1: each version only until the bound has passed since the next
        # one's activation.
        assert {v for sent, _, v in answers if sent < retrained_from} == {"v1"}
        assert {
            v
            for sent, _, v in answers
            if retrained + live.ACTIVATION_BOUND < sent < rolled_back_from
        } <= {"v2"}
        assert {v for sent, _, v in answers if sent > rolled_back + live.ACTIVATION_BOUND} == {"v1"}
        assert "v2" in {v for _, _, v in answers}
    # nginx shared the load between both hosts.
    upstreams = _upstreams_that_answered(front)
    assert set(upstreams) == {f"{ns.address}:{GUNICORN_PORT}" for ns in namespaces}
    assert min(upstreams.values()) >= 10
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}") as db:
        [(rows,)] = db.execute("SELECT count(*) FROM predictor_predictionrequest").fetchall()
        stored = db.execute("SELECT name, content FROM predictor_modelfile").fetchall()
        artifacts = db.execute("SELECT artifact_name FROM predictor_modelversion").fetchall()
    # Every request is in the one audit trail.
    assert rows == 2 + 24 + sum(len(answers) for answers in background.values())
    # No file of a model is on either host's disk: the database holds them all.
    assert len(artifacts) == 2
    assert {name for (name,) in artifacts} <= {name for name, _ in stored}
    stored_digests = {hashlib.sha256(content).hexdigest() for _, content in stored}
    for site in hosts:
        on_disk = [path for path in site.root.rglob("*") if path.is_file()]
        assert not {path.name for path in on_disk} & {name for name, _ in stored}
        assert not {hashlib.sha256(path.read_bytes()).hexdigest() for path in on_disk} & (
            stored_digests
        )


def _upstreams_that_answered(site) -> dict[str, int]:
    """How many predictions each upstream answered, from nginx's access log."""
    counts: dict[str, int] = {}
    for line in (site.root / "nginx" / "access.log").read_text().splitlines():
        if '"POST /api/predictions/ ' in line and " 201 " in line:
            upstream = line.split(" upstream=", 1)[1].split()[0]
            counts[upstream] = counts.get(upstream, 0) + 1
    return counts
