"""The web tier's settings: `gunicorn wsgi:app` reads this file from the working directory.

Every value can be changed through the environment (or on gunicorn's command line, which wins).
"""

import multiprocessing
import os

# PORT as SPEC 3 names it; HOST 0.0.0.0 serves every interface (127.0.0.1 for this host only).
bind = [f"{os.environ.get('HOST') or '0.0.0.0'}:{os.environ.get('PORT') or '8000'}"]

# Threads, so a client that is slow to send or read holds one thread, not a whole process; the
# worker class is gunicorn's gthread worker, answering gunicorn's own refusals in JSON and
# bounding each request socket's silence (webapp/gunicorn_worker.py, REQUEST_BODY_TIMEOUT_S).
worker_class = "webapp.gunicorn_worker.JsonErrorWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count())))
threads = int(os.environ.get("WEB_THREADS", "16"))
# Connections a worker holds open at once (kept-alive ones wait in its poller, not in a thread).
worker_connections = int(os.environ.get("WEB_WORKER_CONNECTIONS", "1000"))

# A worker silent this long is restarted; graceful stops wait for requests in flight.
timeout = int(os.environ.get("WEB_TIMEOUT_S", "60"))
graceful_timeout = 30
keepalive = 5

# Every value the OpenAPI document allows must fit: the longest query the admin listing takes
# (every filter at its longest in 4-byte characters, percent-encoded) is about 5 KB, and 8190
# is gunicorn's ceiling. Headers: a bearer token is at most 256 characters, Idempotency-Key 255.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# gunicorn's control socket would live under ~/.gunicorn, shared by every deployment of this
# host (SPEC 3: they share no files); nothing here uses it.
control_socket_disable = True

# An empty WEB_ACCESS_LOG turns the access log off.
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None

# gunicorn's own lines (starting, booting a worker, signals, the access log) as JSON lines on
# stderr too, in the application's format (SPEC 14), with bearer tokens masked.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "webapp.json_logging.SecretMaskingJsonFormatter"}},
    "handlers": {
        "json_stderr": {"class": "logging.StreamHandler", "formatter": "json",
                        "stream": "ext://sys.stderr"},
    },
    "root": {"level": "INFO", "handlers": ["json_stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["json_stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["json_stderr"], "propagate": False},
    },
}
