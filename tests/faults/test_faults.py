"""Nothing lost, nothing doubled while a part is down (SPEC section 11), under load.

Each scenario drives submits from threads, breaks one part while calls are in flight,
brings it back, and checks at the end: every accepted job ended, every attempt it started
has exactly one log row (numbered 1..n across its runs), no call_id twice, and no job made
a second workout. Each prints its figures. `make faults` runs them (and .ci/run).
"""

import os
import time
import uuid

import psycopg
import pytest
from flask_migrate import upgrade

from config import TestConfig, database_url
from scripts.services import ROOT
from tests.faults import harness
from tests.llm_server import FakeLlm

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def servers():
    """PostgreSQL and Redis of these tests' own, that they may stop."""
    postgres, redis_server = harness.Postgres(), harness.Redis()
    yield postgres, redis_server
    redis_server.close()
    postgres.close()


@pytest.fixture(scope="module")
def fake_llm():
    server = FakeLlm()
    yield server
    server.close()


@pytest.fixture(scope="module")
def stack(servers, fake_llm):
    """The app (web side, in this process) on a migrated database, and the worker's env."""
    from webapp import create_app

    postgres, redis_server = servers
    db_url = postgres.database(f"llmlog_faults_{uuid.uuid4().hex[:8]}")
    prefix = f"llmlog-faults-{uuid.uuid4().hex[:8]}:"

    class FaultConfig(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url(db_url)
        REDIS_URL = redis_server.url
        REDIS_KEY_PREFIX = prefix
        OPENAI_BASE_URL = fake_llm.url
        OPENAI_API_KEY = "test-key"
        PROPAGATE_EXCEPTIONS = False  # a broken part answers an error, as in production
        LLM_TIMEOUT_S = 3.0
        LLM_MAX_RETRIES = 1
        JOB_LEASE_MARGIN_S = 10.0

    app = create_app(FaultConfig)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    env = {**os.environ, **harness.WORKER_SETTINGS, "DATABASE_URL": db_url,
           "REDIS_URL": redis_server.url, "REDIS_KEY_PREFIX": prefix,
           "OPENAI_BASE_URL": fake_llm.url, "OPENAI_API_KEY": "test-key"}
    yield app, env, db_url


@pytest.fixture
def user(stack):
    """A user of this scenario's own, with the headers to submit as them."""
    from webapp.extensions import db
    from webapp.models import ApiToken, User

    app = stack[0]
    with app.app_context():
        account = User(email=f"{uuid.uuid4().hex[:12]}@example.com", role="user")
        db.session.add(account)
        token = ApiToken.issue(account)
        db.session.commit()
        return account.id, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def llm(fake_llm):
    fake_llm.reset()
    fake_llm.default_delay_s = 1.0  # a call takes its time, so calls are in flight
    yield fake_llm
    fake_llm.reset()


@pytest.fixture
def worker(stack):
    running = harness.Worker(stack[1]).start()
    yield running
    running.kill()


def _assert_nothing_lost(figures, wrong_attempts):
    assert figures["accepted"] > 0
    assert figures["terminal"] == figures["jobs"] >= figures["accepted"], figures
    assert wrong_attempts == [], wrong_attempts
    assert figures["duplicate_call_ids"] == 0
    assert figures["workouts"] == figures["distinct_results"] == figures["succeeded"]
    assert "ValueError" not in figures["refused"] and "OperationalError" not in figures["refused"]


def _run(stack, user, llm, name, fault, *, worker=None, before_s=3.0, after_s=3.0, drain_s=120):
    app, _, db_url = stack
    user_id, headers = user
    load = harness.Load(app.test_client(), headers).start()
    time.sleep(before_s)
    llm.wait_for_requests(1, timeout=30)
    fault()
    time.sleep(after_s)
    load.stop()
    took = harness.wait_terminal(db_url, user_id, timeout=drain_s, worker=worker)
    figures, wrong = harness.check_invariant(db_url, load, name, len(llm.requests), user_id)
    if worker is not None:
        figures["worker_restarted_by_supervisor"] = worker.restarts
        print(f"[{name}] the worker exited and was restarted {worker.restarts} time(s)")
    figures["all_ended_after_s"] = None if took is None else round(took, 1)
    print(f"[{name}] all jobs ended {figures['all_ended_after_s']} s after the load stopped")
    return figures, wrong


OUTAGE_PG_S = 12


def test_postgresql_stopped_under_load_loses_and_doubles_nothing(servers, stack, user, llm, worker):
    """PostgreSQL stopped 12 s while calls are with the LLM: the answers that arrive meanwhile
    are stored once it is back, logged as the successes they were, and not asked again."""
    postgres = servers[0]

    def fault():
        postgres.stop()
        time.sleep(OUTAGE_PG_S)
        postgres.start()

    figures, wrong = _run(stack, user, llm, "postgresql stopped", fault)
    _assert_nothing_lost(figures, wrong)
    # No answer was paid for twice: each LLM request is one attempt row, none of them a
    # database error.
    assert figures["rows"] == figures["llm_requests"]
    assert "OperationalError" not in figures["rows_by_outcome"]


def test_redis_stopped_under_load_loses_and_doubles_nothing(servers, stack, user, llm, worker):
    """Redis stopped 15 s under load: submits are accepted or refused, never lost; the jobs
    accepted meanwhile run once it is back (the sweeper sends what never reached it).

    Celery's worker sometimes exits on losing its broker (kombu 5.7 raises "Unrecoverable
    error: AttributeError" while restoring unacked messages on a dead connection); the test
    restarts it as a supervisor would, and says how often.
    """
    redis_server = servers[1]

    def fault():
        redis_server.stop()
        time.sleep(15)
        redis_server.start()

    figures, wrong = _run(stack, user, llm, "redis stopped", fault, worker=worker)
    _assert_nothing_lost(figures, wrong)
    assert figures["failed"] == 0


def test_a_worker_killed_mid_call_leaves_worker_lost_rows_and_its_jobs_end(stack, user, llm, worker):
    """SIGKILL the worker while calls are in flight, start another: every call it took with
    it is a WorkerLost row of its attempt, and its jobs end once the lease runs out."""
    def fault():
        while llm.in_flight < 3:
            time.sleep(0.05)
        worker.kill()
        worker.start()

    figures, wrong = _run(stack, user, llm, "worker killed", fault, after_s=2.0)
    _assert_nothing_lost(figures, wrong)
    assert figures["rows_by_outcome"].get("WorkerLost", 0) >= 3
    # Each job succeeded once: one success row per job, the rest are the lost attempts.
    assert figures["rows_by_outcome"]["success"] == figures["succeeded"] == figures["jobs"]


def test_a_worker_restarted_during_a_429_backoff_loses_and_doubles_nothing(
        stack, user, llm, worker):
    """The LLM answers 429 with Retry-After: 5, and the worker is restarted while its jobs
    wait out the backoff: each job still ends, with a row for every attempt it started."""
    def fault():
        for _ in range(6):
            llm.then(status=429, headers={"Retry-After": "5"})
        llm.wait_for_requests(len(llm.requests) + 6, timeout=30)
        time.sleep(1.0)  # the worker is now sleeping out the Retry-After
        worker.stop(timeout=3)  # a supervisor's restart: SIGTERM, then SIGKILL
        worker.start()

    figures, wrong = _run(stack, user, llm, "worker restarted in a 429 backoff", fault)
    _assert_nothing_lost(figures, wrong)
    assert figures["rows_by_outcome"].get("RateLimitError", 0) >= 6
