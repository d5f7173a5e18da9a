"""RabbitMQ as the broker (CELERY_BROKER_URL=amqp://…, SPEC 17): the operations tests again,
on a quorum queue of this run's own, with a real worker consuming it; the worker-kill test
with `celery -A tasks worker` processes on it; /readyz checks it.

Skipped, with the reason, where no RabbitMQ answers (RABBITMQ_URL, else 127.0.0.1:5672).
"""

import pytest

from tests import rabbitmq
from tests.conftest import RUN_ID, _worker_running
from tests.test_job_recovery import killed_worker_scenario
from tests.test_operations import *  # noqa: F403 - the same tests, collected again here
from tests.test_operations import submit

AMQP_URL = rabbitmq.answering_url()
PREFIX = f"llmlog-test-{RUN_ID}-amqp:"

pytestmark = [
    pytest.mark.skipif(AMQP_URL is None, reason=f"no RabbitMQ answers at {rabbitmq.URL}"),
    pytest.mark.usefixtures("celery_worker"),
]


@pytest.fixture(scope="module")
def app(config_class):
    """The app on the tests' database with RabbitMQ as its broker, on queue names of its own."""
    from flask_migrate import upgrade

    from scripts.services import ROOT
    from webapp import create_app

    class AmqpConfig(config_class):
        CELERY_BROKER_URL = AMQP_URL
        REDIS_KEY_PREFIX = PREFIX

    app = create_app(AmqpConfig)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    yield app
    rabbitmq.delete_names(AMQP_URL, PREFIX)


@pytest.fixture(scope="module")
def celery_worker(app):
    """A real Celery worker (a thread of the test process) consuming the RabbitMQ queue."""
    import tasks.llm_operations  # noqa: F401  (registers the tasks)
    from celery.contrib.testing.worker import start_worker

    celery_app = app.extensions["celery"]
    celery_app.set_default()
    celery_app.set_current()
    with start_worker(celery_app, perform_ping_check=False, loglevel="WARNING") as worker:
        _worker_running.append(worker)
        yield worker
        _worker_running.remove(worker)


def test_the_task_queue_is_a_quorum_queue_and_readyz_checks_the_broker(app, client):
    assert app.extensions["celery"].conf.broker_url.startswith("amqp://")
    assert rabbitmq.queue_type(AMQP_URL, f"{PREFIX}celery") == "quorum"
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"postgresql": "ok", "redis": "ok", "broker": "ok"}


def test_readyz_names_the_broker_when_rabbitmq_is_down(app, config_class):
    from webapp import create_app

    class DownConfig(config_class):
        CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"  # nothing listens there

    response = create_app(DownConfig).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"postgresql": "ok", "redis": "ok", "broker": "down"}


def test_a_submit_while_rabbitmq_is_down_is_accepted_quickly_and_stays_queued(
        app, config_class, auth):
    import time

    from webapp import create_app
    from webapp.extensions import db
    from webapp.models import Job

    class DownConfig(config_class):
        CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"

    down = create_app(DownConfig)
    _, headers = auth.user()
    started = time.monotonic()
    job_id = submit(down.test_client(), headers).get_json()["job_id"]
    assert time.monotonic() - started < 5
    with down.app_context():
        assert db.session.get(Job, job_id).status == "queued"


def test_a_submit_to_a_silent_broker_is_accepted_within_5_s(app, config_class, auth):
    """A broker that takes the connection and never answers (a hung RabbitMQ): still a 202."""
    import socket
    import time

    from webapp import create_app

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel completes the handshake; nobody ever reads or writes

    class SilentConfig(config_class):
        CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{silent.getsockname()[1]}//"

    try:
        _, headers = auth.user()
        client = create_app(SilentConfig).test_client()
        started = time.monotonic()
        submit(client, headers)
        assert time.monotonic() - started < 5
        readiness = client.get("/readyz")
        assert readiness.status_code == 503
        assert readiness.get_json()["checks"]["broker"] == "down"
        assert time.monotonic() - started < 8
    finally:
        silent.close()


def test_a_job_whose_worker_was_killed_mid_call_ends_once_a_new_worker_runs_on_rabbitmq(
        config_class, database, services, auth, llm):
    """The worker-kill test on RabbitMQ: the killed worker's message comes back at once, the
    new worker finds the lease still live and drops it, and the sweeper sends the job again
    once the lease ended; one workout, attempt rows 1 (WorkerLost) and 2."""
    killed_worker_scenario(config_class, database, services, auth, llm, amqp_url=AMQP_URL)
