"""Several worker hosts share one PostgreSQL and one broker; one is cut off mid-load (SPEC 17).

Three worker "hosts" run `celery -A tasks worker` each in a network namespace of the test's
own (tests/faults/hosts.py) and reach PostgreSQL, Redis (the broker) and the LLM on the host
side over a bridge. Submits come from threads on the host side, as from a web tier. Mid-load
one host's link goes down, then its worker is SIGKILLed. At the end SPEC 11's invariant holds
(every accepted job ended once, every attempt one row, no job ran twice to completion) and
the LLM calls after the cut came only from the hosts left. It prints its figures.
"""

import collections
import logging
import os
import time
import uuid

import psycopg
import pytest
from flask_migrate import upgrade

from config import TestConfig, database_url
from scripts.services import ROOT
from tests.faults import harness, hosts
from tests.llm_server import FakeLlm

pytestmark = pytest.mark.faults

HOSTS = 3
# Per host: a smaller pool than one machine's default, so that 3 hosts and the submitting
# side stay well inside the test PostgreSQL's max_connections (sizing: see the README).
HOST_SETTINGS = {**harness.WORKER_SETTINGS, "WORKER_CONCURRENCY": "20",
                 "DB_POOL_SIZE": "5", "DB_MAX_OVERFLOW": "5"}
BEFORE_CUT_S = 6.0
AFTER_CUT_S = 8.0
KILL_AFTER_CUT_S = 1.0  # before any call the host had in flight ran into its LLM timeout


def _on_database(url, name):
    """The server URL with the database name in place of postgres."""
    return url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="module")
def network():
    reason = hosts.unavailable_reason()
    if reason:
        pytest.skip(f"multi-host test: {reason}")
    made = hosts.HostNetwork(HOSTS)
    yield made
    made.close()


def test_a_worker_host_cut_off_mid_load_loses_and_doubles_nothing(network):
    from webapp import create_app
    from webapp.extensions import db
    from webapp.models import ApiToken, User

    postgres, redis_server = hosts.BridgedPostgres(network), hosts.BridgedRedis(network)
    llm = FakeLlm(host=network.gateway)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per LLM call
    llm.default_delay_s = 1.0  # a call takes its time, so calls are in flight at the cut
    workers = []
    try:
        postgres.start()
        redis_server.start()
        name = f"llmlog_multihost_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(postgres.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        db_url = _on_database(postgres.url, name)
        prefix = f"llmlog-multihost-{uuid.uuid4().hex[:8]}:"

        class SubmitConfig(TestConfig):
            SQLALCHEMY_DATABASE_URI = database_url(db_url)
            REDIS_URL = redis_server.url
            REDIS_KEY_PREFIX = prefix
            PROPAGATE_EXCEPTIONS = False
            LLM_TIMEOUT_S = float(HOST_SETTINGS["LLM_TIMEOUT_S"])
            LLM_MAX_RETRIES = int(HOST_SETTINGS["LLM_MAX_RETRIES"])
            JOB_LEASE_MARGIN_S = float(HOST_SETTINGS["JOB_LEASE_MARGIN_S"])

        app = create_app(SubmitConfig)
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            account = User(email=f"{uuid.uuid4().hex[:12]}@example.com", role="user")
            db.session.add(account)
            token = ApiToken.issue(account)
            db.session.commit()
            user_id = account.id
        headers = {"Authorization": f"Bearer {token}"}

        env = {**os.environ, **HOST_SETTINGS,
               "DATABASE_URL": _on_database(postgres.host_url, name),
               "REDIS_URL": redis_server.host_url, "REDIS_KEY_PREFIX": prefix,
               "OPENAI_BASE_URL": llm.url, "OPENAI_API_KEY": "test-key"}
        env.pop("CELERY_BROKER_URL", None)
        workers = [hosts.HostWorker(host, env) for host in network.hosts]

        started_at = time.monotonic()
        load = harness.Load(app.test_client(), headers, threads=4, every_s=0.25).start()
        llm.wait_for_requests(1, timeout=60)
        time.sleep(BEFORE_CUT_S)
        victim = network.hosts[0]
        victim.cut()
        cut_at = time.monotonic()
        time.sleep(KILL_AFTER_CUT_S)
        workers[0].kill()
        time.sleep(AFTER_CUT_S)
        load.stop()
        stopped_at = time.monotonic()
        took = harness.wait_terminal(db_url, user_id, timeout=150)
        figures, wrong = harness.check_invariant(db_url, load, "multi-host", len(llm.requests),
                                                 user_id)

        by_host = {host.address: host.number for host in network.hosts}
        before, after = collections.Counter(), collections.Counter()
        for at, address in list(llm.callers):
            (before if at < cut_at else after)[f"host{by_host.get(address, address)}"] += 1
        with psycopg.connect(db_url) as conn:
            reruns = conn.execute("SELECT count(*) FROM llm_jobs WHERE user_id = %s"
                                  " AND attempts > 1", (user_id,)).fetchone()[0]
        figures.update({
            "hosts": HOSTS, "llm_calls_before_cut": dict(sorted(before.items())),
            "llm_calls_after_cut": dict(sorted(after.items())), "jobs_run_again": reruns,
            "all_ended_after_s": None if took is None else round(took, 1),
            "submits_per_s": round(figures["accepted"] / (stopped_at - started_at), 1),
        })
        print(f"[multi-host] {HOSTS} hosts, host1 cut {BEFORE_CUT_S:.0f} s into the load and "
              f"SIGKILLed {KILL_AFTER_CUT_S:.0f} s later; calls by host before the cut "
              f"{figures['llm_calls_before_cut']}, after {figures['llm_calls_after_cut']}; "
              f"{reruns} job(s) run again; all ended {figures['all_ended_after_s']} s after "
              f"the load stopped", flush=True)

        if took is None:  # say which jobs are left, and what holds them
            with psycopg.connect(db_url) as conn:
                figures["open_jobs"] = conn.execute(
                    "SELECT id, status, attempts, llm_attempts, enqueued_at, lease_expires_at"
                    " FROM llm_jobs WHERE user_id = %s AND status NOT IN ('succeeded', 'failed')",
                    (user_id,)).fetchall()
                figures["sessions"] = conn.execute(
                    "SELECT client_addr, state, now() - state_change FROM pg_stat_activity"
                    " WHERE state LIKE 'idle in%%'").fetchall()
        assert took is not None, figures
        assert figures["accepted"] > 0 and not figures["refused"], figures
        assert figures["terminal"] == figures["jobs"] >= figures["accepted"], figures
        assert figures["failed"] == 0, figures
        assert wrong == [], wrong
        assert figures["duplicate_call_ids"] == 0, figures
        # No job ran twice to completion: one workout per succeeded job, one success row each.
        assert figures["workouts"] == figures["distinct_results"] == figures["succeeded"], figures
        assert figures["rows_by_outcome"]["success"] == figures["succeeded"], figures
        # Every LLM request is an attempt with its row (an attempt cut off before its request
        # left has a WorkerLost row and no request).
        assert figures["rows"] >= figures["llm_requests"], figures
        # Every host worked before the cut; after it, only the hosts left did, all of them.
        assert set(before) == {f"host{h.number}" for h in network.hosts}, figures
        assert "host1" not in after, figures
        assert set(after) == {f"host{h.number}" for h in network.hosts[1:]}, figures
    finally:
        for worker in workers:
            worker.kill()
        llm.close()
        redis_server.close()
        postgres.close()
