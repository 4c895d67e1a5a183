"""App hosts that share no network and no folder: Linux network namespaces joined by veth pairs.

`ip netns` gives each host a network stack of its own: its own loopback, interfaces and ports,
and no route to the other hosts. Each is joined to the root namespace by one veth pair (a
virtual cable) on a /30 of its own: the host holds the .2 end, the root namespace the .1 end.
nginx runs in the root namespace and reaches each host's gunicorn at the host's .2 address.

PostgreSQL and Redis listen on the root namespace's 127.0.0.1, which no host can reach (its
127.0.0.1 is its own). Their configuration is the machine's, not the test's, so `forwarding`
listens on the root end of each host's cable and relays TCP to them: a host finds the database
at 10.231.x.1:5432 as it would at the database server's address on a real network, and nothing
but TCP passes between a host and the rest.

Needs root (CAP_NET_ADMIN) and iproute2. Everything made here is removed on the way out,
whatever happens: a namespace or a veth left behind would outlive the test run.
"""

import ipaddress
import os
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterable
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from .live import gunicorn_process

# 16,384 /30 cables; each test run takes its own, so that runs side by side don't share routes.
CABLES = ipaddress.ip_network("10.231.0.0/16")


@dataclass(frozen=True)
class Host:
    """One app host: a network namespace and the veth pair that is its only way out."""

    name: str
    namespace: str
    link: str  # the root namespace's end of the cable; the host's end is its eth0
    address: str  # the host's own address, where its gunicorn listens
    gateway: str  # the root namespace's end: where the host finds nginx, PostgreSQL and Redis

    def command(self, *args: str) -> list[str]:
        """`args` run inside this host's namespace."""
        return ["ip", "netns", "exec", self.namespace, *args]


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        hint = "" if os.geteuid() == 0 else " (network namespaces need root: sudo make e2e)"
        raise RuntimeError(f"ip {' '.join(args)} failed{hint}: {result.stderr.strip()}")


def _cables(count: int) -> list[ipaddress.IPv4Network]:
    """`count` /30s that no interface of this machine is on yet."""
    used = subprocess.run(
        ["ip", "-o", "-4", "addr", "show"], check=True, capture_output=True, text=True
    ).stdout
    cables = list(CABLES.subnets(new_prefix=30))
    start = os.getpid() * count % len(cables)
    free = []
    for cable in cables[start:] + cables[:start]:
        if f" {cable[1]}/" not in used and f" {cable[2]}/" not in used:
            free.append(cable)
            if len(free) == count:
                return free
    raise RuntimeError(f"no free /30 left in {CABLES}")


@contextmanager
def hosts(*names: str):
    """One namespace per name, each cabled to the root namespace; yields the Hosts.

    Processes started in a namespace must be stopped before this exits: a namespace lives on
    while a process is in it.
    """
    made: list[Host] = []
    try:
        for name, cable in zip(names, _cables(len(names)), strict=True):
            tag = f"{os.getpid()}{name}"
            host = Host(
                name=name,
                namespace=f"vs-host-{tag}",
                link=f"vs{tag}"[:15],  # interface names are at most 15 bytes
                address=str(cable[2]),
                gateway=str(cable[1]),
            )
            # Left by a run that was killed (SIGKILL skips every finally) and had this pid: no
            # live run can own a name made from this process's pid.
            subprocess.run(["ip", "netns", "delete", host.namespace], capture_output=True)
            subprocess.run(["ip", "link", "delete", host.link], capture_output=True)
            _ip("netns", "add", host.namespace)
            made.append(host)
            _ip("link", "add", host.link, "type", "veth", "peer", "name", "eth0",
                "netns", host.namespace)  # fmt: skip
            _ip("addr", "add", f"{host.gateway}/30", "dev", host.link)
            _ip("link", "set", host.link, "up")
            inside = ["-n", host.namespace]
            _ip(*inside, "addr", "add", f"{host.address}/30", "dev", "eth0")
            _ip(*inside, "link", "set", "eth0", "up")
            _ip(*inside, "link", "set", "lo", "up")
        yield made
    finally:
        for host in made:
            # Deleting the namespace destroys its end of the cable, and with it the other end;
            # the root end is deleted by name too in case the namespace never got its end.
            subprocess.run(["ip", "netns", "delete", host.namespace], capture_output=True)
            subprocess.run(["ip", "link", "delete", host.link], capture_output=True)


class _Relay(socketserver.BaseRequestHandler):
    """One client connection, relayed both ways to the server's target until either side ends."""

    def handle(self):
        with socket.create_connection(self.server.target, timeout=10) as upstream:
            upstream.settimeout(None)
            back = threading.Thread(target=_pump, args=(upstream, self.request), daemon=True)
            back.start()
            _pump(self.request, upstream)
            back.join()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)  # pass the end of one direction on, as TCP would
    except OSError:
        # One side reset or closed: end both directions.
        for end in (source, sink):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


class _Forwarder(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]):
        self.target = target
        super().__init__(listen, _Relay)


@contextmanager
def forwarding(addresses: Iterable[str], port: int, target: tuple[str, int]):
    """Relay TCP from `port` on each of `addresses` to `target`; stopped on the way out."""
    with ExitStack() as stack:
        for address in addresses:
            server = stack.enter_context(_Forwarder((address, port), target))
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            stack.callback(thread.join)
            stack.callback(server.shutdown)
        yield


@contextmanager
def gunicorn_on(host: Host, env: dict, *, port: int, log_path: Path, timeout: float = 30.0):
    """gunicorn with deploy/gunicorn.conf.py inside `host`, bound to its own address.

    Yields (base URL as nginx reaches it, process); its logs, access log included, go to
    `log_path`. Always stopped.
    """
    # nginx's requests come from the root end of the cable; only it may set X-Forwarded-*.
    env = {**env, "GUNICORN_FORWARDED_ALLOW_IPS": host.gateway}
    # `ip netns exec` execs the command, so the process is gunicorn's master itself.
    with gunicorn_process(
        env,
        log_path=log_path,
        port=port,
        timeout=timeout,
        address=host.address,
        wrap=lambda command: host.command(*command),
    ) as served:
        yield served


def can_connect(host: Host, address: str, port: int) -> bool:
    """Whether a TCP connection from inside `host` to `address`:`port` is accepted."""
    probe = f"import socket; socket.create_connection(({address!r}, {port}), timeout=2).close()"
    result = subprocess.run(host.command(sys.executable, "-c", probe), capture_output=True)
    return result.returncode == 0
