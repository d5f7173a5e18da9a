"""A worker host cut off while its transaction holds a job's row must not keep it locked.

When a host's link goes down, PostgreSQL never hears that its client is gone: the backend
waits, idle in its transaction, with the row lock held, and every other worker's claim and
the sweeper skip that job (SKIP LOCKED) until the server notices. The service's connections
set the server's own TCP user timeout and keepalives, so the lock goes with the dead host
within seconds, not after the kernel's two hours.
"""

import os
import subprocess
import sys
import time

import psycopg
import pytest

from scripts.services import ROOT
from tests.faults import hosts

pytestmark = pytest.mark.faults

# Inside the host: the service's own engine settings, a transaction that locks the row, then wait.
HOLD_THE_LOCK = """
import sys, time
import sqlalchemy
from config import Config, database_url
engine = sqlalchemy.create_engine(database_url(sys.argv[1]), **Config.SQLALCHEMY_ENGINE_OPTIONS)
with engine.connect() as conn:
    conn.execute(sqlalchemy.text("SELECT id FROM held WHERE id = 1 FOR UPDATE"))
    print("locked", flush=True)
    time.sleep(600)
"""
RELEASED_WITHIN_S = 40  # long before DB_IDLE_IN_TRANSACTION_TIMEOUT_MS (10 min), the last resort


@pytest.fixture(scope="module")
def network():
    reason = hosts.unavailable_reason()
    if reason:
        pytest.skip(f"host-cut lock test: {reason}")
    made = hosts.HostNetwork(1)
    yield made
    made.close()


def test_a_row_locked_by_a_host_that_is_cut_off_is_free_again_soon(network):
    postgres = hosts.BridgedPostgres(network)
    holder = None
    try:
        postgres.start()
        with psycopg.connect(postgres.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE held (id int PRIMARY KEY)")
            conn.execute("INSERT INTO held VALUES (1)")
        host = network.hosts[0]
        holder = subprocess.Popen(
            ["ip", "netns", "exec", host.namespace, sys.executable, "-c", HOLD_THE_LOCK,
             postgres.host_url],
            cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
        assert holder.stdout.readline().strip() == "locked"

        host.cut()
        os.killpg(holder.pid, 9)
        holder.wait()
        cut_at = time.monotonic()

        freed_after = None
        with psycopg.connect(postgres.url, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '1s'")
            while time.monotonic() - cut_at < RELEASED_WITHIN_S:
                try:
                    with conn.transaction():
                        conn.execute("SELECT id FROM held WHERE id = 1 FOR UPDATE")
                    freed_after = time.monotonic() - cut_at
                    break
                except psycopg.errors.LockNotAvailable:
                    time.sleep(0.5)
        print(f"[host-cut] the row a cut-off host held was free again after "
              f"{freed_after and round(freed_after, 1)} s", flush=True)
        assert freed_after is not None, f"still locked {RELEASED_WITHIN_S} s after the cut"
    finally:
        if holder is not None and holder.poll() is None:
            holder.kill()
        postgres.stop()
