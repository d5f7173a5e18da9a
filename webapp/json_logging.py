"""Application logs as one JSON object per line on stderr (SPEC section 14).

python-json-logger, not structlog: every module here logs through the standard `logging`
module (as do Celery, SQLAlchemy and gunicorn), and python-json-logger is a formatter for
exactly that, so no call site changes. Each line carries `request_id` and `job_id` where
they apply, and secrets that slipped into a message are masked before it is written.
"""

import logging
import re
import sys
from collections.abc import Mapping

from pythonjsonlogger.json import JsonFormatter

from webapp.log_context import job_id_var, request_id_var, valid_request_id

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
# An API key, or the part of one a provider quotes back ("Incorrect API key provided: sk-...").
_KEY_LIKE = re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_*-]{3,}")
MASK = "[REDACTED]"


class ContextFilter(logging.Filter):
    """Adds request_id and job_id to a record when the thread has them."""

    def filter(self, record):
        request_id = _request_id() or _access_line_request_id(record)
        if request_id and not hasattr(record, "request_id"):
            record.request_id = request_id
        job_id = job_id_var.get()
        if job_id and not hasattr(record, "job_id"):
            record.job_id = job_id
        return True


def _request_id():
    from flask import g, has_request_context

    if has_request_context():
        return g.get("request_id")
    return request_id_var.get()


def _access_line_request_id(record):
    """The X-Request-ID that the answer of a gunicorn access log line carried (its atoms)."""
    if record.name != "gunicorn.access" or not isinstance(record.args, Mapping):
        return None
    sent = record.args.get("{x-request-id}o")
    return sent if isinstance(sent, str) and valid_request_id(sent) else None


class SecretMaskingJsonFormatter(JsonFormatter):
    """A JSON line with bearer tokens, API keys and the configured secret values masked."""

    def __init__(self, secrets=()):
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
        self.secrets = []
        self.add_secrets(secrets)

    def add_secrets(self, secrets):
        """Mask these values too."""
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted({s for s in (*self.secrets, *secrets) if s and len(s) >= 4},
                              key=len, reverse=True)

    def format(self, record):
        """The record as one JSON line, secrets masked."""
        line = _KEY_LIKE.sub(MASK, _BEARER.sub(r"\1" + MASK, super().format(record)))
        for secret in self.secrets:
            line = line.replace(secret, MASK)
        return line


def json_handler(stream=None, secrets=()):
    """A handler writing JSON lines (to stderr by default) with the context fields."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(SecretMaskingJsonFormatter(secrets))
    handler.addFilter(ContextFilter())
    return handler


def configured_secrets(config):
    """The secret values of this deployment that must never reach a log line."""
    return [config.get(key) or "" for key in ("OPENAI_API_KEY", "METRICS_TOKEN", "SECRET_KEY")]


def adopt(config):
    """Logging a host process configured with this formatter (gunicorn.conf.py): give its
    handlers the context fields and this deployment's secrets, as install() gives its own."""
    for name in (None, "gunicorn.error", "gunicorn.access"):
        for handler in logging.getLogger(name).handlers:
            if not isinstance(handler.formatter, SecretMaskingJsonFormatter):
                continue
            handler.formatter.add_secrets(configured_secrets(config))
            if not any(isinstance(f, ContextFilter) for f in handler.filters):
                handler.addFilter(ContextFilter())


def install(config, level=logging.INFO):
    """Make the root logger write JSON lines to stderr, replacing its handlers."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(json_handler(secrets=configured_secrets(config)))
    root.setLevel(level)
    # Python's warnings (Celery's, say) would go to stderr as plain text otherwise.
    logging.captureWarnings(True)
