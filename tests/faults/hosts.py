"""Worker "hosts" on one machine: network namespaces of a test's own on a bridge of its own.

Each host is a namespace with one end of a veth pair; the other ends hang on a bridge whose
address (the gateway) is where the host side's PostgreSQL, Redis and LLM listen. Addresses
are a /24 of 198.18.0.0/15 (set aside for network tests) that exists only on this bridge, so
no traffic leaves the machine. Cutting a host sets its end of the link down: every packet to
and from it is dropped from then on, on connections already open too.
"""

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

from scripts.services import ROOT
from tests.fault_servers import OwnPostgres, OwnRedis


def _ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def unavailable_reason():
    """Why namespaces cannot be made here (None when they can): root, iproute2, a kernel
    that allows network namespaces and bridges."""
    if os.geteuid() != 0:
        return "needs root to make network namespaces"
    if not shutil.which("ip") or not shutil.which("runuser"):
        return "needs iproute2's ip and runuser"
    try:
        HostNetwork(hosts=1).close()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot make a network namespace and bridge here ({type(exc).__name__})"
    return None


class HostNetwork:
    """A bridge with the gateway address, and `hosts` namespaces on it."""

    def __init__(self, hosts):
        self.tag = uuid.uuid4().hex[:6]
        self.bridge = f"lmb{self.tag}"
        taken = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
        while True:
            third = random.randrange(1, 255)
            prefix = f"198.19.{third}."
            if prefix not in taken:
                break
        self.subnet = f"{prefix}0/24"
        self.gateway = f"{prefix}1"
        self.hosts = []
        try:
            _ip("link", "add", "name", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for number in range(1, hosts + 1):
                self.hosts.append(Host(self, number, f"{prefix}{10 + number}"))
        except Exception:
            self.close()
            raise

    def close(self):
        """Remove the namespaces, their links and the bridge."""
        for host in self.hosts:
            host.close()
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)


class Host:
    """One namespace on the bridge, at `address`."""

    def __init__(self, network, number, address):
        self.number, self.address = number, address
        self.namespace = f"lmh{network.tag}{number}"
        self.outer, self.inner = f"lmo{network.tag}{number}", f"lmi{network.tag}{number}"
        _ip("netns", "add", self.namespace)
        _ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        _ip("link", "set", self.outer, "master", network.bridge)
        _ip("link", "set", self.outer, "up")
        _ip("link", "set", self.inner, "netns", self.namespace)
        self._inside("addr", "add", f"{address}/24", "dev", self.inner)
        self._inside("link", "set", self.inner, "up")
        self._inside("link", "set", "lo", "up")

    def _inside(self, *args):
        _ip("netns", "exec", self.namespace, "ip", *args)

    def cut(self):
        """Drop every packet to and from the host from now on."""
        self._inside("link", "set", self.inner, "down")

    def close(self):
        """Remove the link and the namespace (its processes must be stopped first)."""
        subprocess.run(["ip", "link", "del", self.outer], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True)


class BridgedPostgres(OwnPostgres):
    """A PostgreSQL of the test's own on 127.0.0.1 and on the bridge's gateway, trusting the
    hosts' subnet; `url` is for this side, `host_url` for the hosts."""

    def __init__(self, network, max_connections=200):
        super().__init__()
        with open(self._server.pgdata / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {network.subnet} trust\n")
        with open(self._server.pgdata / "postgresql.conf", "a") as conf:
            conf.write(f"max_connections = {max_connections}\n")
        self.address = f"127.0.0.1,{network.gateway}"  # listen_addresses
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.host_url = f"postgresql://postgres@{network.gateway}:{self.port}/postgres"


class BridgedRedis(OwnRedis):
    """A redis-server of the test's own on 127.0.0.1 and on the bridge's gateway."""

    def __init__(self, network):
        super().__init__()
        self.gateway = network.gateway
        self.host_url = f"redis://{network.gateway}:{self.port}/0"

    def start(self):
        """Start it on both addresses and wait until it answers."""
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", self.gateway,
             "--save", "", "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


class HostWorker:
    """`celery -A tasks worker` run inside a host's namespace, in a process group of its own."""

    def __init__(self, host, env):
        self.host, self.env = host, env
        log = os.path.join(tempfile.gettempdir(), f"llmlog-multihost-{os.getpid()}-{host.number}.log")
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", host.namespace, sys.executable, "-m", "celery", "-A", "tasks",
             "worker", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-n", f"host{host.number}@%h"],
            cwd=ROOT, env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=open(log, "ab"))

    def kill(self):
        """SIGKILL the worker and its children at once."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, 9)
        self.process.wait()
