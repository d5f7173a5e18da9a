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
from tests.test_operations import poll, submit
from webapp.extensions import db
from webapp.models import Job, Workout
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
    from webapp import create_app

    prefix = f"llmlog-test-kill-{uuid.uuid4().hex[:8]}:"
    settings = {"REDIS_KEY_PREFIX": prefix, "LLM_TIMEOUT_S": "3", "LLM_MAX_RETRIES": "0",
                "JOB_LEASE_MARGIN_S": "1", "JOB_SWEEP_INTERVAL_S": "1", "JOB_RESEND_AFTER_S": "1"}

    class KillConfig(config_class):
        REDIS_KEY_PREFIX = prefix
        LLM_TIMEOUT_S = 3.0
        LLM_MAX_RETRIES = 0

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
    finally:
        _kill(first)
        if second is not None:
            _kill(second)
        client_redis = redis.Redis.from_url(services["REDIS_URL"])
        for key in client_redis.scan_iter(match=f"{prefix}*"):
            client_redis.delete(key)


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
