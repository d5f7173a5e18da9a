"""Settings, read from the environment once, when a config class is imported."""

import os


def _bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def database_url(raw):
    """Return a SQLAlchemy URL that uses psycopg 3 however the URL names the driver."""
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://"):]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://"):]
    return raw


# USD per million tokens, (input, output). A model missing here is logged with a null cost.
DEFAULT_LLM_PRICES = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "offline-rules-v1": (0.0, 0.0),
}


class Config:
    """Production settings; every value can be set through the environment."""

    # Signs the log listings' cursors. Unset, each host makes one under instance/ (see
    # webapp.secret_key); set it when web processes run on more than one host.
    SECRET_KEY = os.environ.get("SECRET_KEY", "")
    SQLALCHEMY_DATABASE_URI = database_url(
        os.environ.get("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/llmlog")
    )
    # Calls one worker process keeps in flight: its pool's threads (an LLM call is mostly
    # waiting, so threads, not processes; see the README's production section).
    WORKER_CONCURRENCY = int(os.environ.get("WORKER_CONCURRENCY", "200"))
    # Connections per process, opened as needed. No session is held while the LLM answers, so
    # a worker's threads need one only for their short transactions: 200 threads fit in 20 + 10.
    # Connections beyond DB_POOL_SIZE are closed when returned, so a pool too small for the
    # load reconnects over and over (the P2 benchmark saw it with 10).
    DB_POOL_SIZE = int(os.environ.get("DB_POOL_SIZE", "20"))
    DB_MAX_OVERFLOW = int(os.environ.get("DB_MAX_OVERFLOW", "10"))
    # Every connection speaks UTC, so timestamps come back with offset +00:00.
    SQLALCHEMY_ENGINE_OPTIONS = {
        "pool_pre_ping": True,
        "pool_size": DB_POOL_SIZE,
        "max_overflow": DB_MAX_OVERFLOW,
        "connect_args": {"options": "-c timezone=UTC"},
    }
    REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

    OPENAI_API_KEY = os.environ.get("OPENAI_API_KEY") or None
    OPENAI_BASE_URL = os.environ.get("OPENAI_BASE_URL") or None
    LLM_MODEL = os.environ.get("LLM_MODEL", "gpt-4o-mini")
    LLM_TIMEOUT_S = float(os.environ.get("LLM_TIMEOUT_S", "60"))
    LLM_MAX_RETRIES = int(os.environ.get("LLM_MAX_RETRIES", "2"))
    LLM_BACKOFF_BASE_S = float(os.environ.get("LLM_BACKOFF_BASE_S", "1"))
    LLM_BACKOFF_MAX_S = 10.0
    LLM_PRICES = DEFAULT_LLM_PRICES

    # Jobs: a claim's lease is the longest run plus this margin; the sweeper runs in every
    # worker at this interval and sends again a job not sent for JOB_RESEND_AFTER_S.
    JOB_LEASE_MARGIN_S = float(os.environ.get("JOB_LEASE_MARGIN_S", "30"))
    JOB_SWEEP_INTERVAL_S = float(os.environ.get("JOB_SWEEP_INTERVAL_S", "30"))
    JOB_RESEND_AFTER_S = float(os.environ.get("JOB_RESEND_AFTER_S", "120"))

    # Bound of the local log spool file (instance/log-spool/), used with Redis down as well.
    LOG_SPOOL_FILE_MAX_BYTES = int(os.environ.get("LOG_SPOOL_FILE_MAX_BYTES", str(64 * 1024 * 1024)))

    LOG_REQUEST_DATA = _bool("LOG_REQUEST_DATA", True)
    TRUSTED_PROXY_HOPS = int(os.environ.get("TRUSTED_PROXY_HOPS", "0"))

    MAX_CONTENT_LENGTH = 64 * 1024

    # APIFlask: validation errors are 400s.
    VALIDATION_ERROR_STATUS_CODE = 400
    # The bearer token; webapp.auth's decorators put it on every route they protect.
    SECURITY_SCHEMES = {"BearerAuth": {"type": "http", "scheme": "bearer"}}

    # Keys of this deployment in a shared Redis start with this prefix (tests use their own).
    REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "")

    # Celery settings; the broker URL, key prefix and visibility timeout are added from the
    # values above when the app is built (webapp.celery_app), so subclasses can change those.
    CELERY = {
        # Threads: a worker process keeps WORKER_CONCURRENCY calls in flight. Late acks with
        # reject-on-worker-lost keep a message until its job ran; prefetch 1 per thread.
        "worker_pool": "threads",
        "worker_concurrency": WORKER_CONCURRENCY,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_serializer": "json",
        "accept_content": ["json"],
        "broker_connection_retry_on_startup": True,
    }


class TestConfig(Config):
    """Settings for the test suite: the database and Redis are given by the fixtures."""

    TESTING = True
    SECRET_KEY = "test-secret-key"
