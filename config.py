"""Settings, read from the environment once, when a config class is imported."""

import json
import os
from pathlib import Path

# Where `make run` writes the URLs of the embedded servers it started, so that `flask ...`
# in another shell finds them (see service_urls).
RUN_URLS_FILE = Path(os.environ.get("RUN_URLS_FILE")
                     or Path(__file__).resolve().parent / "instance" / "run-urls.json")
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/llmlog"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _env(name, default):
    """The variable's value, or `default` when it is unset or empty (`NAME=` in an env file)."""
    return os.environ.get(name) or default


def _bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def retention_days(raw):
    """LOG_RETENTION_DAYS as a number of days, or None (keep every row) when unset or 0.

    Anything else stops the process with one line saying why: a negative number would put
    the cutoff in the future and remove every row.
    """
    text = (raw or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        raise SystemExit(f"LOG_RETENTION_DAYS {raw!r}: expected a whole number of days "
                         "(at least 1), or unset to keep every row.")
    return int(text) or None


def database_url(raw):
    """Return a SQLAlchemy URL that uses psycopg 3 however the URL names the driver."""
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://"):]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://"):]
    return raw


# USD per million tokens, standard tier: OpenAI's list prices (openai.com/api/pricing) as
# they stood in August 2025 and were still listed in June 2026. A model missing here is
# logged with a null cost; a dated snapshot (gpt-4o-mini-2024-07-18) is priced under its
# undated name (webapp.llm.pricing).
DEFAULT_LLM_PRICES = {
    "gpt-4o-mini": {"input": 0.15, "cached_input": 0.075, "output": 0.60},
    "gpt-4o": {"input": 2.50, "cached_input": 1.25, "output": 10.00},
    "gpt-4.1": {"input": 2.00, "cached_input": 0.50, "output": 8.00},
    "gpt-4.1-mini": {"input": 0.40, "cached_input": 0.10, "output": 1.60},
    "gpt-4.1-nano": {"input": 0.10, "cached_input": 0.025, "output": 0.40},
    "o3": {"input": 2.00, "cached_input": 0.50, "output": 8.00},
    "o3-mini": {"input": 1.10, "cached_input": 0.55, "output": 4.40},
    "o4-mini": {"input": 1.10, "cached_input": 0.275, "output": 4.40},
    "gpt-5": {"input": 1.25, "cached_input": 0.125, "output": 10.00},
    "gpt-5-mini": {"input": 0.25, "cached_input": 0.025, "output": 2.00},
    "gpt-5-nano": {"input": 0.05, "cached_input": 0.005, "output": 0.40},
    "offline-rules-v1": {"input": 0.0, "cached_input": 0.0, "output": 0.0},
}
_PRICE_KEYS = {"input", "output", "cached_input"}


def llm_prices(path):
    """The price table: the JSON file at `path` (LLM_PRICES_FILE) in place of the default.

    The file is `{"model": {"input": x, "output": y, "cached_input": z}}` in USD per million
    tokens (`cached_input` optional). A file that cannot be used stops the process with one
    line saying why, rather than logging every call with a wrong or null cost.
    """
    if not path:
        return DEFAULT_LLM_PRICES
    try:
        with open(path, encoding="utf-8") as handle:
            table = json.load(handle)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"LLM_PRICES_FILE {path}: cannot read it as JSON ({exc}).") from None
    if not isinstance(table, dict) or not table:
        raise SystemExit(f"LLM_PRICES_FILE {path}: expected a non-empty JSON object of models.")
    for model, price in table.items():
        problem = _price_problem(price)
        if problem:
            raise SystemExit(f"LLM_PRICES_FILE {path}: model {model!r}: {problem}.")
    return table


def _price_problem(price):
    if not isinstance(price, dict):
        return 'expected {"input": x, "output": y, "cached_input": z}'
    missing = {"input", "output"} - set(price)
    if missing:
        return f"missing {', '.join(sorted(missing))}"
    unknown = set(price) - _PRICE_KEYS
    if unknown:
        return f"unknown key {', '.join(sorted(unknown))}"
    for key, value in price.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            return f"{key} must be a number of USD per million tokens, at least 0"
    return None


def service_urls(environ=os.environ, run_urls_file=RUN_URLS_FILE):
    """DATABASE_URL and REDIS_URL: from the environment, else those of the embedded servers a
    running `make run` wrote down, else the local defaults. Also says where each came from."""
    try:
        started = json.loads(Path(run_urls_file).read_text())
    except (OSError, ValueError):
        started = {}
    urls = {}
    for name, default in (("DATABASE_URL", DEFAULT_DATABASE_URL),
                          ("REDIS_URL", DEFAULT_REDIS_URL)):
        if environ.get(name):
            urls[name] = (environ[name], "environment")
        elif started.get(name):
            urls[name] = (started[name], str(run_urls_file))
        else:
            urls[name] = (default, "default")
    return urls


_URLS = service_urls()


class Config:
    """Production settings; every value can be set through the environment."""

    # Signs the log listings' cursors. Unset, each host makes one under instance/ (see
    # webapp.secret_key); set it when web processes run on more than one host.
    SECRET_KEY = os.environ.get("SECRET_KEY", "")
    SQLALCHEMY_DATABASE_URI = database_url(_URLS["DATABASE_URL"][0])
    # Where the database URL came from (the environment, make run's file, or the default),
    # for the CLI's one-line error when it cannot connect.
    DATABASE_URL_SOURCE = _URLS["DATABASE_URL"][1]
    # Calls one worker process keeps in flight: its pool's threads (an LLM call is mostly
    # waiting, so threads, not processes; see the README's production section).
    WORKER_CONCURRENCY = int(_env("WORKER_CONCURRENCY", "200"))
    # Connections per process, opened as needed. No session is held while the LLM answers, so
    # a worker's threads need one only for their short transactions: 200 threads fit in 20 + 10.
    # Connections beyond DB_POOL_SIZE are closed when returned, so a pool too small for the
    # load reconnects over and over (the P2 benchmark saw it with 10).
    DB_POOL_SIZE = int(_env("DB_POOL_SIZE", "20"))
    DB_MAX_OVERFLOW = int(_env("DB_MAX_OVERFLOW", "10"))
    # A request must get its 503 within 5 s while PostgreSQL is down or unreachable (SPEC 11):
    # psycopg waits 130 s for a connection by default, and a query sent into a network that
    # drops packets waits forever. So: give up connecting after DB_CONNECT_TIMEOUT_S (psycopg's
    # least is 2), let the kernel drop a connection whose data is not acknowledged within
    # DB_TCP_USER_TIMEOUT_MS, probe idle ones with keepalives, and let the server cancel a
    # statement after DB_STATEMENT_TIMEOUT_MS (0 turns that off, e.g. for a long bulk load).
    # The server watches its side too: a worker host cut off mid-transaction sends no FIN, and
    # the backend would sit idle in that transaction, row locks held, for the kernel's two
    # hours. With the server's own TCP user timeout and keepalives it goes within seconds
    # (tests/faults/test_host_cut_locks.py; keepalives alone did not do it there in 40 s).
    DB_CONNECT_TIMEOUT_S = int(_env("DB_CONNECT_TIMEOUT_S", "2"))
    DB_TCP_USER_TIMEOUT_MS = int(_env("DB_TCP_USER_TIMEOUT_MS", "2000"))
    DB_STATEMENT_TIMEOUT_MS = int(_env("DB_STATEMENT_TIMEOUT_MS", "30000"))
    # The last resort for a transaction whose client hangs, alive but silent (its row locks
    # would keep a job from ever being run again): no session of the service waits that long
    # between statements (none is held while the LLM answers; an export to a client that
    # reads nothing for that long is cut).
    DB_IDLE_IN_TRANSACTION_TIMEOUT_MS = int(
        _env("DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", "600000"))
    # Every connection speaks UTC, so timestamps come back with offset +00:00.
    SQLALCHEMY_ENGINE_OPTIONS = {
        "pool_pre_ping": True,
        "pool_size": DB_POOL_SIZE,
        "max_overflow": DB_MAX_OVERFLOW,
        "connect_args": {
            "options": (f"-c timezone=UTC -c statement_timeout={DB_STATEMENT_TIMEOUT_MS}"
                        " -c tcp_keepalives_idle=10 -c tcp_keepalives_interval=2"
                        f" -c tcp_keepalives_count=3 -c tcp_user_timeout={DB_TCP_USER_TIMEOUT_MS}"
                        " -c idle_in_transaction_session_timeout="
                        f"{DB_IDLE_IN_TRANSACTION_TIMEOUT_MS}"),
            "connect_timeout": DB_CONNECT_TIMEOUT_S,
            "tcp_user_timeout": DB_TCP_USER_TIMEOUT_MS,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 2,
            "keepalives_count": 3,
        },
    }
    REDIS_URL = _URLS["REDIS_URL"][0]
    # The Celery broker, when it is not Redis: RabbitMQ as amqp://user:pass@host:5672/vhost
    # (webapp.celery_app). REDIS_URL still serves the log spool, limits and readiness.
    CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or None
    # How long connecting to Redis, and then one reply of it, may take (the broker, the readiness
    # check): a submit never blocks past 5 s while Redis is down or unreachable (SPEC 11).
    # They bound a RabbitMQ broker's connect and socket waits too.
    REDIS_CONNECT_TIMEOUT_S = float(_env("REDIS_CONNECT_TIMEOUT_S", "1"))
    REDIS_SOCKET_TIMEOUT_S = float(_env("REDIS_SOCKET_TIMEOUT_S", "2"))

    OPENAI_API_KEY = os.environ.get("OPENAI_API_KEY") or None
    OPENAI_BASE_URL = os.environ.get("OPENAI_BASE_URL") or None
    LLM_MODEL = _env("LLM_MODEL", "gpt-4o-mini")
    LLM_TIMEOUT_S = float(_env("LLM_TIMEOUT_S", "60"))
    LLM_MAX_RETRIES = int(_env("LLM_MAX_RETRIES", "2"))
    LLM_BACKOFF_BASE_S = float(_env("LLM_BACKOFF_BASE_S", "1"))
    LLM_BACKOFF_MAX_S = 10.0
    LLM_PRICES_FILE = os.environ.get("LLM_PRICES_FILE") or None
    LLM_PRICES = llm_prices(LLM_PRICES_FILE)

    # Jobs: a claim's lease is the longest run plus this margin; the sweeper runs in every
    # worker at this interval and sends again a job not sent for JOB_RESEND_AFTER_S.
    JOB_LEASE_MARGIN_S = float(_env("JOB_LEASE_MARGIN_S", "30"))
    JOB_SWEEP_INTERVAL_S = float(_env("JOB_SWEEP_INTERVAL_S", "30"))
    JOB_RESEND_AFTER_S = float(_env("JOB_RESEND_AFTER_S", "120"))

    # Alert rules are evaluated by the workers at this interval (SPEC §18).
    ALERT_EVAL_INTERVAL_S = float(_env("ALERT_EVAL_INTERVAL_S", "60"))
    # OTLP over HTTP: each logged call is also a span, sent to <endpoint>/v1/traces.
    OTEL_EXPORTER_OTLP_ENDPOINT = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None
    # Bound of the local log spool file (instance/log-spool/), used with Redis down as well.
    LOG_SPOOL_FILE_MAX_BYTES = int(_env("LOG_SPOOL_FILE_MAX_BYTES", str(64 * 1024 * 1024)))

    LOG_REQUEST_DATA = _bool("LOG_REQUEST_DATA", True)
    TRUSTED_PROXY_HOPS = int(_env("TRUSTED_PROXY_HOPS", "0"))

    # Limits per user (SPEC section 12), all off unless set: LLM operation requests a minute
    # (the three submit routes together), tokens and USD of the calls of a UTC day.
    RATE_LIMIT_PER_MINUTE = int(os.environ.get("RATE_LIMIT_PER_MINUTE") or 0) or None
    DAILY_TOKEN_BUDGET = int(os.environ.get("DAILY_TOKEN_BUDGET") or 0) or None
    DAILY_COST_BUDGET_USD = float(os.environ.get("DAILY_COST_BUDGET_USD") or 0) or None

    # Log rows older than this many days are removed by the workers' sweep (unset: kept).
    LOG_RETENTION_DAYS = retention_days(os.environ.get("LOG_RETENTION_DAYS"))

    # GET /metrics wants this bearer token when set. Its files live in METRICS_DIR, by default
    # a directory under instance/metrics/ of this deployment's own (webapp.metrics).
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None
    METRICS_DIR = os.environ.get("METRICS_DIR") or None

    MAX_CONTENT_LENGTH = 64 * 1024

    # APIFlask: validation errors are 400s.
    VALIDATION_ERROR_STATUS_CODE = 400
    # /docs: Swagger UI 5 (it renders OpenAPI 3.1) from files the app serves (webapp.api_docs);
    # APIFlask's defaults load it, and the page's icon, from the internet.
    DOCS_UI = "swagger-ui"
    SWAGGER_UI_CSS = "/docs/assets/swagger-ui.css"
    SWAGGER_UI_BUNDLE_JS = "/docs/assets/swagger-ui-bundle.js"
    SWAGGER_UI_STANDALONE_PRESET_JS = "/docs/assets/swagger-ui-standalone-preset.js"
    DOCS_FAVICON = "/docs/assets/favicon-32x32.png"
    # No online validator badge (it would call validator.swagger.io).
    SWAGGER_UI_CONFIG = {"validatorUrl": None}

    # Dashboard sign-in cookie (webapp.dashboard): HttpOnly, SameSite=Lax, Secure over HTTPS.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_NAME = "llmlog_session"
    # CSRF tokens on the dashboard's forms only (its before_request checks them); the JSON
    # API (bearer tokens, no cookies) takes none. A token lasts as long as its session.
    WTF_CSRF_CHECK_DEFAULT = False
    WTF_CSRF_TIME_LIMIT = None
    # The token is what proves a form came from our page (SPEC 16); Flask-WTF's extra demand
    # of a same-origin Referer over HTTPS would refuse browsers and proxies that send none.
    WTF_CSRF_SSL_STRICT = False

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
        # A submit's publish gives up after these (the job stays queued; the sweeper sends it):
        # one retry: a silent connection (REDIS_SOCKET_TIMEOUT_S), then a new one
        # (REDIS_CONNECT_TIMEOUT_S), about 3 s at worst.
        "broker_connection_timeout": 1.0,
        "task_publish_retry_policy": {"max_retries": 1, "interval_start": 0,
                                      "interval_step": 0.2, "interval_max": 0.2},
    }


class TestConfig(Config):
    """Settings for the test suite: the database and Redis are given by the fixtures."""

    TESTING = True
    SECRET_KEY = "test-secret-key"
