"""Fixtures: a database of the tests' own made by the migrations, real Redis, the app.

The PostgreSQL and Redis servers are those named by DATABASE_URL / REDIS_URL, or
embedded ones started for the run. The tests create a database named
`llmlog_test_<random>` and drop it at the end; in Redis they touch only keys
under a prefix of their own.
"""

import os
import time
import uuid

import psycopg
import pytest
import redis
from flask_migrate import upgrade
from sqlalchemy import text
from sqlalchemy.engine import make_url

from config import TestConfig, database_url
from scripts.services import ROOT, admin_url, running_services
from tests.llm_server import FakeLlm

RUN_ID = uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def services():
    """DATABASE_URL and REDIS_URL of running servers."""
    with running_services(announce=lambda message: None) as urls:
        yield urls


@pytest.fixture(scope="session")
def database(services):
    """A new, empty database on the server, dropped after the run; yields its URL."""
    server_url = database_url(services["DATABASE_URL"])
    name = f"llmlog_test_{RUN_ID}"
    admin = admin_url(server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_prefix(services):
    """A key prefix of this run's own in Redis; its keys are deleted after the run."""
    prefix = f"llmlog-test-{RUN_ID}:"
    yield prefix
    client = redis.Redis.from_url(services["REDIS_URL"])
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


@pytest.fixture(scope="session")
def fake_llm():
    """The local OpenAI-compatible server every LLM call of the tests goes to."""
    server = FakeLlm()
    yield server
    server.close()


@pytest.fixture(scope="session")
def config_class(database, services, redis_prefix, fake_llm, tmp_path_factory):
    """TestConfig pointed at the test database, this run's Redis key prefix and the fake LLM."""

    class RunConfig(TestConfig):
        METRICS_DIR = str(tmp_path_factory.mktemp("metrics"))
        SQLALCHEMY_DATABASE_URI = database
        REDIS_URL = services["REDIS_URL"]
        REDIS_KEY_PREFIX = redis_prefix
        OPENAI_BASE_URL = fake_llm.url
        OPENAI_API_KEY = "test-key"
        LLM_MODEL = "gpt-4o-mini"
        LLM_TIMEOUT_S = 2.0
        LLM_MAX_RETRIES = 2
        LLM_BACKOFF_BASE_S = 0.05

    return RunConfig


@pytest.fixture(scope="session")
def app(config_class):
    """The app, on a database the migrations built."""
    from webapp import create_app

    app = create_app(config_class)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    return app


@pytest.fixture(autouse=True)
def _isolated(request):
    """Empty every table (and the log spool) after each test that used the database."""
    if "celery_worker" in request.fixturenames:
        # Another test's create_app() made its Celery app the default, and the shared tasks
        # the worker runs would resolve to it (and its database): make the run's app current.
        celery_app = request.getfixturevalue("app").extensions["celery"]
        celery_app.set_default()
        celery_app.set_current()
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    from webapp.extensions import db

    _drain_worker(app)
    with app.app_context():
        spool = f"{app.config['REDIS_KEY_PREFIX']}llm_call_logs:spool"
        redis.Redis.from_url(app.config["REDIS_URL"]).delete(spool, f"{spool}:processing")
        db.session.remove()
        tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


_worker_running = []


def _drain_worker(app, timeout=30):
    """Drop queued tasks and let the one running finish, so no job of this test writes
    into the next one (a test may enqueue jobs it does not wait for)."""
    if not _worker_running:
        return
    from celery.worker import state

    app.extensions["celery"].control.purge()
    deadline = time.monotonic() + timeout
    while (state.active_requests or state.reserved_requests) and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.fixture(scope="session")
def celery_worker(app):
    """A real Celery worker (in a thread of the test process) consuming this run's queue."""
    import tasks.llm_operations  # noqa: F401  (registers the tasks)
    from celery.contrib.testing.worker import start_worker

    with start_worker(app.extensions["celery"], perform_ping_check=False, loglevel="WARNING") as worker:
        _worker_running.append(worker)
        yield worker
        _worker_running.clear()


@pytest.fixture
def llm(fake_llm):
    """The fake LLM with an empty script and no requests seen."""
    fake_llm.reset()
    yield fake_llm
    fake_llm.reset()


@pytest.fixture
def app_ctx(app):
    """An app context for tests that use the models directly."""
    with app.app_context():
        yield


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A runner for the app's CLI commands."""
    return app.test_cli_runner()


class Auth:
    """Makes users with tokens and the headers to call the API as them."""

    def __init__(self, app):
        self.app = app

    def user(self, email=None, role="user"):
        """Create a user; return (user_id, headers with a fresh bearer token)."""
        from webapp.extensions import db
        from webapp.models import ApiToken, User

        with self.app.app_context():
            user = User(email=email or f"{uuid.uuid4().hex[:12]}@example.com", role=role)
            db.session.add(user)
            token = ApiToken.issue(user)
            db.session.commit()
            return user.id, {"Authorization": f"Bearer {token}"}

    def admin(self, email=None):
        """Create an admin; return (user_id, headers)."""
        return self.user(email, role="admin")


@pytest.fixture
def auth(app):
    """The Auth helper."""
    return Auth(app)


def pytest_configure(config):
    os.environ.setdefault("FLASK_APP", "wsgi")
