"""Faults under load, through real nginx and gunicorn (`make chaos`).

Each scenario puts a bounded load on the deployment, injects faults on purpose, and checks that
nothing is lost (audit rows match the answers), nothing leaks (no 5xx beyond what a fault must
cost) and the service recovers by itself. The figures are printed as one table at the end.
"""

import datetime

import pytest

from . import chaos, deployment, live

pytestmark = pytest.mark.chaos

PREDICTION_SQL = (
    "SELECT p.id, p.created_at, p.accepted, p.views, p.likes, p.shares, v.number"
    " FROM predictor_predictionrequest p LEFT JOIN predictor_modelversion v"
    " ON v.id = p.model_version_id ORDER BY p.id"
)


def test_three_retrains_under_load_fail_nothing_and_versions_only_move_forward(tmp_path):
    with (
        deployment.running_site(tmp_path) as site,
        chaos.Load(site, clients=4) as load,
    ):
        load.wait_for(50)
        for _ in range(3):
            load.more(50)  # each retrain lands on a version that has served a while
            deployment.manage(site, "retrain")
        # Every client has moved to the last version, and keeps being served by it.
        chaos.wait_until(lambda: load.seen_by_every_client("v4"), 30, "v4 answers to every client")
        load.more(50)

    answers = load.answers
    statuses = load.statuses()
    assert set(statuses) == {201}, statuses
    # Each client saw the versions in order: an older one after a newer one only from another
    # worker that had not asked again yet, within the bound (VIEWSITE_ACTIVE_VERSION_MAX_AGE).
    for client in range(load.clients):
        mine = [a for a in answers if a.client == client]
        assert mine[0].version == "v1"
        newest, seen_at = 1, mine[0].finished
        for answer in mine:
            number = int(answer.version[1:])
            if number > newest:
                newest, seen_at = number, answer.finished
            assert number == newest or answer.started <= seen_at + live.ACTIVATION_BOUND
    assert {a.version for a in answers} == {"v1", "v2", "v3", "v4"}
    # Every audit row names the version that was active when it was written.
    activations = {
        number: datetime.datetime.fromisoformat(at)
        for number, at in chaos.sqlite_rows(
            site, "SELECT number, activated_at FROM predictor_modelversion"
        )
    }
    rows = chaos.sqlite_rows(site, PREDICTION_SQL)
    for _, created_at, accepted, views, _, _, number in rows:
        created = datetime.datetime.fromisoformat(created_at)
        assert accepted
        assert views is not None
        assert activations[number] <= created
        assert number == 4 or created <= activations[number + 1] + datetime.timedelta(seconds=1)
    assert len(rows) == len(answers)
    chaos.record(
        "3 retrains under load",
        load,
        audit_rows=len(rows),
        faults="3 retrains",
        beyond_bound=sum(n for s, n in statuses.items() if s != 201),
    )


def test_killing_workers_costs_at_most_the_requests_in_flight(tmp_path):
    kills = 4
    with (
        deployment.running_site(tmp_path) as site,
        chaos.Load(site, clients=4) as load,
    ):
        load.wait_for(50)
        for _ in range(kills):
            chaos.kill_worker(site.gunicorn)  # returns once the master has replaced the worker
            load.more(20)  # the next kill hits a site that has served again since
        recovered_at = len(load.answers)
        load.wait_for(recovered_at + 40)

    statuses = load.statuses()
    failures = sum(n for s, n in statuses.items() if s != 201)
    # A worker serves at most one request per thread at a time (one for a sync worker): a kill
    # can cost only the ones it was serving, and never more than there are clients.
    in_flight = min(int(site.env.get("GUNICORN_THREADS", "1")), load.clients)
    assert failures <= kills * in_flight
    assert all(a.status == 201 for a in load.answers[recovered_at:])
    rows = chaos.sqlite_rows(site, PREDICTION_SQL)
    # No half-written row: every row is whole. A worker killed after its commit but before its
    # answer leaves a row the client never heard about; none can be missing.
    assert all(accepted and views is not None and n for _, _, accepted, views, _, _, n in rows)
    assert statuses[201] <= len(rows) <= statuses[201] + failures
    chaos.record(
        "kill -9 a worker, 4 times",
        load,
        audit_rows=len(rows),
        faults=f"{kills} worker kills",
        beyond_bound=max(0, failures - kills * in_flight),
    )


def test_the_database_going_away_gives_quick_503s_and_service_comes_back(tmp_path):
    port = live.free_port()
    with chaos.private_cluster(port) as cluster:
        with (
            deployment.running_site(tmp_path / "site", database_url=cluster.url) as site,
            chaos.Load(site, clients=4, timeout=10) as load,
        ):
            load.wait_for(50)
            cluster.stop()
            down_from = len(load.answers)
            # Long enough for every client to be refused many times over.
            chaos.wait_until(
                lambda: sum(a.status == 503 for a in load.answers[down_from:]) >= 40,
                30,
                "40 answers of 503 while the database is down",
            )
            down_to = len(load.answers)
            cluster.start()
            load.wait_for(down_to + 50, timeout=30)
            back_from = len(load.answers)
            load.wait_for(back_from + 40)

        import psycopg

        with psycopg.connect(cluster.url.replace("postgres://", "postgresql://")) as db:
            [(rows,)] = db.execute("SELECT count(*) FROM predictor_predictionrequest").fetchall()

    outage = load.answers[down_from:down_to]
    assert outage, "no request was made while the database was down"
    unavailable = [a for a in outage if a.status == 503]
    assert unavailable, "the outage was not noticed"
    assert {a.code for a in unavailable} == {"service_unavailable"}
    assert all(a.status in (201, 503) for a in load.answers)
    assert max(a.finished - a.started for a in unavailable) < 2.0  # quick, not a hang
    assert all(a.status == 201 for a in load.answers[back_from:])
    statuses = load.statuses()
    assert rows == statuses[201]
    chaos.record(
        "PostgreSQL stopped",
        load,
        audit_rows=rows,
        faults="1 database outage",
        beyond_bound=sum(n for s, n in statuses.items() if s not in (201, 503)),
    )


def test_retrain_faults_leave_the_active_model_serving(tmp_path):
    faults = []
    with (
        deployment.running_site(tmp_path) as site,
        chaos.Load(site, clients=2) as load,
    ):
        load.wait_for(20)

        # A full disk: no file may grow past 300 bytes (an artifact is about 600), as when the
        # file system fills up mid-write.
        # In English: the deployment speaks Chinese (DJANGO_LANGUAGE_CODE), commands included.
        full = deployment.run_manage(site, "retrain", "--language", "en", file_size_limit=300)
        assert full.returncode != 0
        # Whichever write hits the limit first, the artifact or the database, it is said plainly.
        assert "Nothing was stored and the active model is unchanged" in full.stderr
        assert "Traceback" not in full.stderr
        faults.append("full disk")

        # A retrain killed at various points.
        for delay in (0.5, 1.0, 1.5, 2.0):
            deployment.kill_manage(site, delay, "retrain")
            faults.append("killed retrain")

        # A corrupted artifact, and one pickled by another scikit-learn with a checksum to match
        # (but no signature by this site's key): neither is activated.
        for damage in ("corrupt", "foreign"):
            deployment.manage(site, "retrain", "--no-activate")
            [(number, name)] = chaos.sqlite_rows(
                site, "SELECT number, artifact_name FROM predictor_modelversion"
                " WHERE NOT is_active ORDER BY number DESC LIMIT 1"
            )  # fmt: skip
            chaos.damage_artifact(site, name, how=damage)
            refused = deployment.run_manage(site, "activate", f"v{number}")
            assert refused.returncode != 0
            expected = (
                "does not match the recorded sha256"
                if damage == "corrupt"
                else "its signature does not match"
            )
            assert expected in refused.stderr
            faults.append(f"{damage} artifact")
        load.more(20)  # and it keeps serving after the last fault

    # Every stored version's artifact is whole, and the same version served throughout.
    versions = chaos.sqlite_rows(
        site, "SELECT number, artifact_name, artifact_sha256, is_active FROM predictor_modelversion"
    )
    active = [number for number, _, _, is_active in versions if is_active]
    statuses = load.statuses()
    assert set(statuses) == {201}
    assert {a.version for a in load.answers} <= {f"v{n}" for n, *_ in versions}
    assert chaos.unloadable(site, versions) <= {"corrupt", "foreign"}
    rows = chaos.sqlite_rows(site, PREDICTION_SQL)
    assert len(rows) == statuses[201]
    assert len(active) == 1
    chaos.record(
        "retrain faults under load",
        load,
        audit_rows=len(rows),
        faults=f"{len(faults)}: full disk, 4 kills, corrupt, foreign",
        beyond_bound=sum(n for s, n in statuses.items() if s != 201),
    )


# Writes under contention, counted rather than timed (it was a minute): the same proof on a
# fast machine and a busy one, and no longer than it takes to make them.
CONTENDED_WRITES = 3000


def test_sqlite_with_four_workers_and_fifty_clients_never_locks(tmp_path):
    with (
        deployment.running_site(tmp_path, workers=4) as site,
        chaos.Load(site, clients=50, timeout=30) as load,
    ):
        load.wait_for(CONTENDED_WRITES, timeout=180)

    statuses = load.statuses()
    log = (tmp_path / "gunicorn.log").read_text()
    assert "database is locked" not in log
    assert set(statuses) == {201}, statuses
    [(rows,)] = chaos.sqlite_rows(site, "SELECT count(*) FROM predictor_predictionrequest")
    assert rows == statuses[201]
    chaos.record(
        f"SQLite, 4 workers, 50 clients, {CONTENDED_WRITES:,} writes",
        load,
        audit_rows=rows,
        faults="write contention",
        beyond_bound=sum(n for s, n in statuses.items() if s != 201),
    )
