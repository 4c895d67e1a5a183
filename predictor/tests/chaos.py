"""Load and faults for `make chaos`: clients that never stop asking, and ways to hurt the server.

The load is bounded (it runs until told to stop, and each request times out), goes to 127.0.0.1
only, through nginx over TLS as a real client would.
"""

import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

# One line per scenario, printed as a table at the end of the run (see conftest.py).
RESULTS: list[dict] = []


@dataclass
class Answer:
    client: int
    started: float
    finished: float
    status: int  # 0: no HTTP answer at all (connection reset, timeout)
    version: str | None = None
    code: str | None = None


@dataclass
class Load:
    """`clients` threads posting one prediction at a time, each on its own keep-alive connection."""

    site: object
    clients: int = 4
    timeout: float = 10.0
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True)
            for n in range(self.clients)
        ]

    def _connect(self):
        return http.client.HTTPSConnection(
            "localhost", self.site.https_port, context=self.site.tls_context(), timeout=self.timeout
        )

    def _client(self, number: int) -> None:
        connection = self._connect()
        body = json.dumps({"likes": 100 + number, "shares": 50}).encode()
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                connection.request(
                    "POST", "/api/predictions/", body, {"Content-Type": "application/json"}
                )
                response = connection.getresponse()
                payload = response.read()
                status = response.status
                try:
                    data = json.loads(payload)
                except ValueError:
                    data = {}
                answer = Answer(
                    number,
                    started,
                    time.monotonic(),
                    status,
                    data.get("model_version"),
                    data.get("code"),
                )
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
                    connection = self._connect()
            except (OSError, http.client.HTTPException):
                answer = Answer(number, started, time.monotonic(), 0)
                connection.close()
                connection = self._connect()
            with self._lock:
                self.answers.append(answer)
        connection.close()

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def wait_for(self, count: int, timeout: float = 60.0) -> None:
        wait_until(lambda: len(self.answers) >= count, timeout, f"{count} answers")

    def more(self, count: int, timeout: float = 60.0) -> None:
        """Wait for `count` answers beyond those already in."""
        self.wait_for(len(self.answers) + count, timeout)

    def seen_by_every_client(self, version: str) -> bool:
        with self._lock:
            return {a.client for a in self.answers if a.version == version} == set(
                range(self.clients)
            )

    def statuses(self) -> Counter:
        return Counter(answer.status for answer in self.answers)


def wait_until(condition, timeout: float, what: str) -> None:
    """Return as soon as `condition()` holds: a scenario waits for what it needs, not a guess."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.05)


def record(scenario: str, load: Load, *, audit_rows: int, faults: str, beyond_bound: int) -> None:
    statuses = load.statuses()
    RESULTS.append(
        {
            "scenario": scenario,
            "requests": len(load.answers),
            "responses": ", ".join(
                f"{'no answer' if s == 0 else s}: {n}" for s, n in sorted(statuses.items())
            ),
            "audit rows": audit_rows,
            "faults injected": faults,
            "failures beyond bound": beyond_bound,
        }
    )


def print_table(write) -> None:
    if not RESULTS:
        return
    columns = list(RESULTS[0])
    widths = {c: max(len(c), *(len(str(row[c])) for row in RESULTS)) for c in columns}
    write("\n" + "  ".join(c.ljust(widths[c]) for c in columns) + "\n")
    for row in RESULTS:
        write("  ".join(str(row[c]).ljust(widths[c]) for c in columns) + "\n")


def workers_of(master: subprocess.Popen) -> list[int]:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def sqlite_rows(site, query: str, *params):
    with sqlite3.connect(site.var_dir / "viewsite.sqlite3", timeout=30) as db:
        return db.execute(query, params).fetchall()


@dataclass
class PrivateCluster:
    """A PostgreSQL cluster of the test's own (initdb), on its own port: safe to stop and start."""

    root: Path
    port: int
    bin_dir: Path = field(
        default_factory=lambda: sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd="/tmp", check=False)
        if result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, command, result.stdout, result.stderr
            )

    def init(self) -> None:
        self.root.mkdir(parents=True)
        if os.geteuid() == 0:
            subprocess.run(["chown", "postgres:postgres", str(self.root)], check=True)
        self._run("initdb", "-D", str(self.root / "data"), "-U", "postgres", "--auth=trust")

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "log"), "-w", "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")


@contextmanager
def private_cluster(port: int):
    # Not under pytest's tmp_path: that is private to root, and PostgreSQL runs as postgres.
    parent = Path(tempfile.mkdtemp(prefix="viewsite-chaos-pg-"))
    parent.chmod(0o755)
    root = parent / "cluster"
    cluster = PrivateCluster(root, port)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        with suppress(subprocess.CalledProcessError):  # already stopped
            cluster.stop()
        shutil.rmtree(parent, ignore_errors=True)


def kill_worker(master: subprocess.Popen) -> int:
    """SIGKILL one worker, and return once the master has replaced it."""
    workers = workers_of(master)
    victim = workers[0]
    os.kill(victim, signal.SIGKILL)
    wait_until(
        lambda: victim not in (now := workers_of(master)) and len(now) == len(workers),
        30,
        f"replacement for worker {victim}",
    )
    return victim


def damage_artifact(site, name: str, *, how: str) -> None:
    """Corrupt an artifact in the database, or make it one pickled by another scikit-learn with
    a checksum that matches it (as an artifact copied from another installation would have; its
    signature, made by no key of this site, cannot)."""
    import hashlib

    with sqlite3.connect(site.var_dir / "viewsite.sqlite3", timeout=30) as db:
        [(payload,)] = db.execute("SELECT content FROM predictor_modelfile WHERE name = ?", (name,))
        if how == "corrupt":
            damaged = payload[: len(payload) // 2] + b"\x00" * 16
        else:
            import sklearn

            current = sklearn.__version__.encode()
            damaged = payload.replace(current, b"0.0.0".ljust(len(current), b"0")[: len(current)])
            assert damaged != payload
            db.execute(
                "UPDATE predictor_modelversion SET artifact_sha256 = ? WHERE artifact_name = ?",
                (hashlib.sha256(damaged).hexdigest(), name),
            )
        db.execute("UPDATE predictor_modelfile SET content = ? WHERE name = ?", (damaged, name))


def unloadable(site, versions) -> set[str]:
    """Which stored versions fail verification: their names as damage_artifact left them."""
    import hashlib

    bad = set()
    for _, name, sha256, _ in versions:
        [(content,)] = sqlite_rows(
            site, "SELECT content FROM predictor_modelfile WHERE name = ?", name
        )
        if hashlib.sha256(content).hexdigest() != sha256:
            bad.add("corrupt")
        elif b"0.0.0" in content:
            bad.add("foreign")
    return bad
