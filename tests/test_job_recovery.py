"""Jobs end even when a worker dies or a message is lost, and never run twice."""

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import redis
from sqlalchemy import func, select

from scripts.services import ROOT
from tests import rabbitmq
from tests.test_operations import poll, submit
from webapp.extensions import db
from webapp.models import Job, LlmCallLog, Workout
from webapp.services import jobs


def _job(app, job_id):
    with app.app_context():
        return db.session.get(Job, job_id)


def _queued_job(app, user_id, **overrides):
    """A job stored as queued whose message never reached the broker."""
    with app.app_context():
        fields = {"operation_type": "workout_creation", "status": "queued",
                  "payload": {"prompt": "lost legs"}, "request_meta": {}, "attempts": 0,
                  "enqueued_at": datetime.now(timezone.utc) - timedelta(hours=1), **overrides}
        job = Job(id=uuid.uuid4(), user_id=user_id, **fields)
        db.session.add(job)
        db.session.commit()
        return job.id


@pytest.mark.usefixtures("celery_worker")
def test_the_sweeper_sends_again_a_job_whose_message_was_lost(app, client, auth, llm):
    user_id, headers = auth.user()
    job_id = _queued_job(app, user_id)
    with app.app_context():
        assert jobs.sweep(resend_after_s=60) == 1
    assert poll(client, headers, job_id)["status"] == "succeeded"


@pytest.mark.usefixtures("celery_worker")
def test_a_finished_job_is_never_run_again(app, client, auth, llm):
    _, headers = auth.user()
    job_id = submit(client, headers).get_json()["job_id"]
    poll(client, headers, job_id)
    app.extensions["celery"].send_task("tasks.create_workout", args=[job_id])
    time.sleep(1.0)
    assert len(llm.requests) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Workout)) == 1


def test_a_job_started_too_often_without_finishing_fails_as_worker_lost(app, auth):
    user_id, _ = auth.user()
    job_id = _queued_job(app, user_id, attempts=jobs.MAX_RUNS)
    with app.app_context():
        assert jobs.claim(job_id) is None
    job = _job(app, job_id)
    assert job.status == "failed"
    assert job.error["type"] == "WorkerLost"


def test_a_job_running_on_a_live_lease_is_not_claimed_twice(app, auth):
    user_id, _ = auth.user()
    job_id = _queued_job(app, user_id)
    with app.app_context():
        assert jobs.claim(job_id) is not None
        assert jobs.claim(job_id) is None
    assert _job(app, job_id).attempts == 1


def _start_worker(env):
    """The plain worker command, as an operator runs it."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker",
         "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _kill(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_a_job_whose_worker_was_killed_mid_call_ends_once_a_new_worker_runs(
        config_class, database, services, auth, llm):
    """SIGKILL the worker (and its pool) while the LLM is answering, start a new worker:
    the job is re-run within its lease and makes exactly one workout."""
    killed_worker_scenario(config_class, database, services, auth, llm)


def killed_worker_scenario(config_class, database, services, auth, llm, amqp_url=None):
    """The worker-kill test, on Redis or (with `amqp_url`) on RabbitMQ as the broker."""
    from webapp import create_app

    prefix = f"llmlog-test-kill-{uuid.uuid4().hex[:8]}:"
    settings = {"REDIS_KEY_PREFIX": prefix, "LLM_TIMEOUT_S": "3", "LLM_MAX_RETRIES": "0",
                "JOB_LEASE_MARGIN_S": "1", "JOB_SWEEP_INTERVAL_S": "1", "JOB_RESEND_AFTER_S": "1"}
    if amqp_url:
        settings["CELERY_BROKER_URL"] = amqp_url

    class KillConfig(config_class):
        REDIS_KEY_PREFIX = prefix
        LLM_TIMEOUT_S = 3.0
        LLM_MAX_RETRIES = 0
        CELERY_BROKER_URL = amqp_url

    app = create_app(KillConfig)
    client = app.test_client()
    env = {**os.environ, **settings, "DATABASE_URL": database,
           "REDIS_URL": services["REDIS_URL"], "OPENAI_BASE_URL": llm.url,
           "OPENAI_API_KEY": "test-key"}
    _, headers = auth.user()
    llm.then(delay_s=20)  # the first call hangs until the worker is killed
    first = _start_worker(env)
    second = None
    try:
        job_id = submit(client, headers).get_json()["job_id"]
        llm.wait_for_requests(1, timeout=60)
        _kill(first)
        assert _job(app, job_id).status == "running"

        second = _start_worker(env)
        job = poll(client, headers, job_id, timeout=90)
        assert job["status"] == "succeeded"
        assert len(llm.requests) == 2
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Workout)) == 1
            assert db.session.get(Job, job_id).attempts == 2
            rows = db.session.scalars(select(LlmCallLog).where(LlmCallLog.job_id == job_id)
                                      .order_by(LlmCallLog.attempt)).all()
        # The call the killed worker took with it is its attempt's WorkerLost row.
        assert [(r.attempt, r.success, r.error_type, r.http_status_code) for r in rows] == [
            (1, False, "WorkerLost", 500), (2, True, None, 200)]
    finally:
        _kill(first)
        if second is not None:
            _kill(second)
        app.extensions["celery"].close()  # its broker connections, not left to later tests
        client_redis = redis.Redis.from_url(services["REDIS_URL"])
        for key in client_redis.scan_iter(match=f"{prefix}*"):
            client_redis.delete(key)
        if amqp_url:
            rabbitmq.delete_names(amqp_url, prefix)


@pytest.mark.usefixtures("celery_worker")
def test_a_job_submitted_while_redis_is_down_runs_once_the_sweeper_finds_it(
        app, config_class, client, auth, llm):
    from webapp import create_app

    class BrokerDownConfig(config_class):
        REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there

    _, headers = auth.user()
    down = create_app(BrokerDownConfig).test_client()
    response = down.post("/llm/create-workout", json={"prompt": "legs"}, headers=headers)
    assert response.status_code == 202
    job_id = response.get_json()["job_id"]
    assert _job(app, job_id).status == "queued"

    with app.app_context():
        assert jobs.sweep(resend_after_s=0) == 1
    assert poll(client, headers, job_id)["status"] == "succeeded"


def _broker_key(app, name="celery"):
    return f"{app.config['REDIS_KEY_PREFIX']}{name}"


@pytest.fixture
def unconsumed(config_class):
    """The app on a broker key prefix no worker consumes, so its messages stay queued."""
    from webapp import create_app

    class Unconsumed(config_class):
        REDIS_KEY_PREFIX = f"llmlog-test-unconsumed-{uuid.uuid4().hex[:8]}:"

    app = create_app(Unconsumed)
    yield app
    client = redis.Redis.from_url(app.config["REDIS_URL"])
    for key in client.scan_iter(match=f"{Unconsumed.REDIS_KEY_PREFIX}*"):
        client.delete(key)


def test_the_sweeper_leaves_alone_a_job_whose_message_still_waits_in_the_queue(
        unconsumed, auth):
    """A backlog is not a loss: N waiting jobs stay N messages, however often it sweeps."""
    app = unconsumed
    user_id, _ = auth.user()
    job_id = _queued_job(app, user_id)
    client = redis.Redis.from_url(app.config["REDIS_URL"])
    with app.app_context():
        jobs.enqueue(db.session.get(Job, job_id))  # no worker consumes it here
        assert client.llen(_broker_key(app)) == 1
        for _ in range(3):
            assert jobs.sweep(resend_after_s=0) == 0
    assert client.llen(_broker_key(app)) == 1


def test_the_sweeper_sends_a_job_again_once_its_message_is_gone_and_keeps_its_first_enqueue(
        unconsumed, auth):
    app = unconsumed
    user_id, _ = auth.user()
    first = datetime.now(timezone.utc) - timedelta(hours=1)
    job_id = _queued_job(app, user_id, first_enqueued_at=first)
    client = redis.Redis.from_url(app.config["REDIS_URL"])
    with app.app_context():
        assert jobs.sweep(resend_after_s=60) == 1
        assert jobs.sweep(resend_after_s=0) == 0  # its new message waits in the queue
    assert client.llen(_broker_key(app)) == 1
    job = _job(app, job_id)
    assert job.first_enqueued_at == first
    assert job.enqueued_at > first


@pytest.mark.usefixtures("celery_worker")
def test_queue_wait_is_measured_from_the_first_enqueue(app, client, auth, llm):
    user_id, headers = auth.user()
    job_id = _queued_job(app, user_id, first_enqueued_at=datetime.now(timezone.utc)
                         - timedelta(minutes=10))
    with app.app_context():
        jobs.sweep(resend_after_s=60)
    assert poll(client, headers, job_id)["status"] == "succeeded"
    with app.app_context():
        row = db.session.scalars(select(LlmCallLog).where(LlmCallLog.job_id == job_id)).one()
    assert row.queue_wait_ms >= 10 * 60 * 1000


@pytest.mark.usefixtures("celery_worker")
def test_attempts_are_numbered_across_runs_and_a_lost_one_gets_its_worker_lost_row(
        app, client, auth, llm):
    """A job whose earlier run started attempt 1 and vanished: the re-run logs that attempt
    as WorkerLost and numbers its own from 2."""
    user_id, headers = auth.user()
    job_id = _queued_job(app, user_id, status="running", attempts=1, llm_attempts=1,
                         attempt_started_at=datetime.now(timezone.utc) - timedelta(minutes=5),
                         lease_expires_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    llm.then(status=503)  # the re-run's first attempt fails and is retried
    with app.app_context():
        assert jobs.sweep(resend_after_s=60) == 1
    assert poll(client, headers, job_id)["status"] == "succeeded"
    with app.app_context():
        rows = db.session.scalars(select(LlmCallLog).where(LlmCallLog.job_id == job_id)
                                  .order_by(LlmCallLog.attempt)).all()
    assert [(r.attempt, r.error_type) for r in rows] == [
        (1, "WorkerLost"), (2, "InternalServerError"), (3, None)]
    assert len({r.call_id for r in rows}) == 3
