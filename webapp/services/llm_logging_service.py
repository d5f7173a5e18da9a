"""The logging service: one `llm_call_logs` row per LLM call (SPEC section 7).

Rows are written in a session and transaction of their own, so the operation's
rollback never removes its log row. A failing log write never breaks the operation:
the row waits in Redis (webapp.services.log_spool) until the database takes it.
"""

import json
import logging
import re
import time
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

from flask import current_app, g, has_app_context, has_request_context, request
from sqlalchemy.orm import Session, scoped_session
from werkzeug.exceptions import HTTPException

from webapp import metrics
from webapp.extensions import db as flask_db
from webapp.services import call_spans, log_spool
from webapp.services.log_writer import write_row

log = logging.getLogger(__name__)

REQUEST_DATA_MAX_BYTES = 16 * 1024
ERROR_MESSAGE_MAX_CHARS = 2000
RESPONSE_SUMMARY_MAX_CHARS = 500
USER_AGENT_MAX_CHARS = 512
REDACTED = "[REDACTED]"
# A key names a secret when it contains one of these, whatever its case and separators
# ("user_password", "clientSecret", "X-Api-Key", "proxyauthorization")...
_SECRET_PARTS = ("password", "passwd", "secret", "authorization", "apikey")
# ...or when one of its words ends in "token" ("access_token", "authToken", "APITOKEN"; so
# "token_count" too, erring on the safe side), but not "prompt_tokens", "max_tokens" or
# "tokenizer".
_TOKEN_WORD = "token"

# Columns a caller may set through log_success(**fields) or the context managers.
EXTRA_FIELDS = frozenset(
    {
        "workout_id",
        "training_plan_id",
        "job_id",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cost_usd",
        "queue_wait_ms",
        "attempt",
        "request_id",
        "cached_tokens",
        "reasoning_tokens",
        "prompt_name",
        "prompt_version",
    }
)


def redact(value):
    """Replace the values under keys that name secrets, at any depth (and NUL characters,
    which PostgreSQL cannot store)."""
    if isinstance(value, dict):
        return {
            _storable(key): REDACTED if _names_secret(key) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    return _storable(value)


def _storable(value):
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def _names_secret(key):
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(key))
    words = [word for word in re.split(r"[^a-z0-9]+", spaced.lower()) if word]
    joined = "".join(words)  # "X-Api-Key" -> "xapikey"
    return (any(part in joined for part in _SECRET_PARTS)
            or any(word.endswith(_TOKEN_WORD) for word in words))


def prepare_request_data(data):
    """Redact, and cut at 16 KB with a marker saying so; None stays None."""
    if data is None:
        return None
    if not isinstance(data, dict):
        data = {"value": data}
    data = redact(data)
    text = json.dumps(data, default=str, ensure_ascii=False)
    size = len(text.encode())
    if size <= REQUEST_DATA_MAX_BYTES:
        return json.loads(text)
    # Keep a prefix of the JSON text so the start of the request stays readable. The prefix is
    # escaped again inside the marker (quotes, backslashes, control characters), so it takes
    # as many characters as fit once escaped, even with every non-ASCII character escaped.
    marker = {"_truncated": True, "_original_size_bytes": size, "preview": ""}
    room = REQUEST_DATA_MAX_BYTES - len(json.dumps(marker).encode())
    kept = 0
    for char in text:
        room -= len(json.dumps(char)) - 2  # the character's escaped form, without the quotes
        if room < 0:
            break
        kept += 1
    marker["preview"] = text[:kept]
    return marker


def status_code_for(exc):
    """The HTTP status an error is logged with (SPEC section 6)."""
    import openai

    from webapp.llm.errors import InvalidLLMOutput

    if isinstance(exc, HTTPException):
        return exc.code or 500
    if isinstance(exc, InvalidLLMOutput):
        return 502
    if isinstance(exc, openai.RateLimitError):
        return 429
    if isinstance(exc, openai.APITimeoutError):
        return 504
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code
    code = getattr(exc, "status_code", None)  # our own ApiError and the like
    if isinstance(code, int) and 400 <= code <= 599:
        return code
    return 500


def error_text(exc):
    """An exception's text for people (SPEC 9): upstream and database errors summarised."""
    from webapp.error_text import public_message

    return public_message(exc)


def _one_line(text, limit):
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def request_meta_from_request():
    """Method, user agent and client IP of the current HTTP request, to carry into a worker.

    The client IP is `request.remote_addr`, which ProxyFix has already taken from
    X-Forwarded-For when (and only as far as) TRUSTED_PROXY_HOPS allows.
    """
    return {
        "method": request.method,
        "user_agent": request.headers.get("User-Agent"),
        "ip_address": request.remote_addr,
        "request_id": g.get("request_id"),
    }


class LlmCallLogger:
    """Logs one call: start it, then end it once with log_success or log_error."""

    def __init__(
        self,
        user,
        endpoint_name,
        llm_operation_type,
        *,
        method="POST",
        request_meta=None,
        db=None,
    ):
        self.user_id = str(getattr(user, "id", user))
        self.endpoint_name = endpoint_name
        self.llm_operation_type = llm_operation_type
        if request_meta is None and has_request_context():
            request_meta = request_meta_from_request()
        request_meta = request_meta or {}
        self.method = request_meta.get("method") or method
        self.user_agent = request_meta.get("user_agent")
        self.ip_address = request_meta.get("ip_address")
        self._engine = db
        # The request that started the call (carried in request_meta into a worker).
        self.fields = {"request_id": request_meta.get("request_id")}
        self.request_data = None
        self.timestamp = None
        self.call_id = None
        self._started = None
        self._ended = None
        self.logged = False

    def start_logging(self, request_data=None):
        """Mark the call's start and remember what it was asked (redacted when written)."""
        self.timestamp = datetime.now(timezone.utc)
        self._started = time.monotonic()
        self.call_id = uuid.uuid4()
        self.request_data = request_data
        return self

    def update_request_data(self, **items):
        """Add what the operation learned along the way (say, which revision it took)."""
        self.request_data = {**(self.request_data or {}), **items}

    def set_fields(self, **fields):
        """Remember columns (workout_id, tokens, ...) for whichever way the call ends."""
        unknown = set(fields) - EXTRA_FIELDS
        if unknown:
            raise TypeError(f"unknown log fields: {', '.join(sorted(unknown))}")
        self.fields.update(fields)
        return self

    def log_success(self, http_status_code=200, response_summary=None, **fields):
        """Write the call as a success."""
        self.set_fields(**fields)
        self._write(**self._success(http_status_code, response_summary))

    def stop_clock(self):
        """End the call's duration now (the answer arrived), whenever its row is written."""
        self._ended = time.monotonic()

    def success_row(self, http_status_code=200, response_summary=None, **fields):
        """The call's success row, not written: for a caller that inserts it in its own
        transaction (outbox style) and then calls mark_logged()."""
        self.set_fields(**fields)
        return self._row(self._success(http_status_code, response_summary))

    def mark_logged(self, row):
        """The caller committed this call's row (from success_row) itself; the context writes
        no other, and counts and exports it as its own."""
        self.logged = True
        _observe(row)

    def _success(self, http_status_code, response_summary):
        # Made one line first: a summary of only whitespace would otherwise be stored empty.
        summary = _one_line(response_summary or "", RESPONSE_SUMMARY_MAX_CHARS) or (
            f"{self.llm_operation_type or self.endpoint_name} succeeded")
        return dict(
            success=True,
            http_status_code=http_status_code,
            response_summary=_storable(_one_line(summary, RESPONSE_SUMMARY_MAX_CHARS)),
        )

    def log_error(self, exc, http_status_code=None):
        """Write the call as failed with the exception's type, text and status."""
        self._write(
            success=False,
            http_status_code=http_status_code or status_code_for(exc),
            error_type=type(exc).__name__,
            error_message=_storable(error_text(exc)[:ERROR_MESSAGE_MAX_CHARS]) or type(exc).__name__,
        )

    def _loggable_request_data(self):
        if not _config("LOG_REQUEST_DATA", True):
            return None
        try:
            return prepare_request_data(self.request_data)
        except Exception:
            # Say so in the row rather than lose the row.
            log.exception("Could not prepare request_data of an LLM call log row")
            return {"_unloggable": True}

    def _write(self, **outcome):
        if self.logged:
            log.warning("LLM call %s already logged; ignoring a second outcome", self.endpoint_name)
            return
        self.logged = True
        row = self._row(outcome)
        try:
            write_row(_bind(self._engine), row)
        except Exception:
            _keep(row)
        _observe(row)

    def _row(self, outcome):
        """The row of this call with this outcome, its values fitted to their columns."""
        if self._started is None:
            self.start_logging()
        ended = self._ended or time.monotonic()
        row = dict(
            call_id=self.call_id,
            user_id=self.user_id,
            endpoint_name=self.endpoint_name,
            method=self.method,
            timestamp=self.timestamp,
            duration_ms=int((ended - self._started) * 1000),
            llm_operation_type=self.llm_operation_type,
            user_agent=self.user_agent,
            ip_address=self.ip_address,
            **self.fields,
            **outcome,
        )
        try:
            row.update(
                endpoint_name=row["endpoint_name"][:255],
                method=row["method"][:10],
                user_agent=_storable((row["user_agent"] or "")[:USER_AGENT_MAX_CHARS]) or None,
                ip_address=row["ip_address"][:45] if row["ip_address"] else None,
                request_data=self._loggable_request_data(),
            )
        except Exception:
            log.exception("Could not fit an LLM call log row; writing it as it is")
        return row


def _observe(row):
    """A call was logged: count it in the metrics and, when configured, export its span."""
    try:
        metrics.record_call(row)
    except Exception:
        log.warning("Could not count LLM call %s in the metrics", row.get("call_id"), exc_info=True)
    if has_app_context():
        call_spans.export(row)


def _keep(row):
    """The database could not take a row: spool it (Redis, else this deployment's local spool
    file) for the sweeper to write later; only with both full or down does it go whole to the
    application log. The operation goes on either way."""
    metrics.record_log_write_failure()
    try:
        where = log_spool.spool(row)
    except Exception:
        log.exception("Could not write LLM call log row: %s", json.dumps(row, default=str))
    else:
        place = "in Redis" if where == "redis" else "in the local spool file"
        log.warning("Could not write LLM call log row; spooled it %s", place, exc_info=True)


def _bind(db):
    """The engine to write log rows with: that of an Engine or Connection, of a Session's
    bind, of the Flask-SQLAlchemy extension, or by default the app's. The row is always
    written on a connection and in a transaction of its own."""
    if db is None:
        return flask_db.engine
    if isinstance(db, (Session, scoped_session)):
        db = db.get_bind()
    return db.engine


# The innermost call being logged in this thread or task, for code that runs inside a
# logging context without being handed its logger (say, storing what the call produced).
_current_call = ContextVar("current_llm_call", default=None)


def current_call():
    """The LlmCallLogger of the innermost logging context around the caller, or None."""
    return _current_call.get()


def _config(key, default):
    return current_app.config.get(key, default) if has_app_context() else default


@contextmanager
def log_llm_call(user, endpoint_name, llm_operation_type, request_data=None, *,
                 method="POST", request_meta=None, db=None, **fields):
    """Log the block as one call: an exception leaving it is an error row and is re-raised;
    a block that ends without an outcome is a success."""
    call_logger = LlmCallLogger(
        user, endpoint_name, llm_operation_type,
        method=method, request_meta=request_meta, db=db,
    )
    call_logger.set_fields(**fields)
    call_logger.start_logging(request_data)
    token = _current_call.set(call_logger)
    try:
        yield call_logger
    except BaseException as exc:
        if not call_logger.logged:
            call_logger.log_error(exc)
        raise
    finally:
        _current_call.reset(token)
    if not call_logger.logged:
        call_logger.log_success()


def log_workout_creation(user, request_data=None, **kwargs):
    """Log a `POST /llm/create-workout` call."""
    return log_llm_call(user, "llm/create-workout", "workout_creation", request_data, **kwargs)


def log_training_principles_creation(user, request_data=None, **kwargs):
    """Log a `POST /llm/create-training-principles` call; the plan's health_notes, if a caller
    passes them, are never logged (SPEC section 5)."""
    if isinstance(request_data, dict) and "health_notes" in request_data:
        request_data = {key: value for key, value in request_data.items() if key != "health_notes"}
    return log_llm_call(
        user, "llm/create-training-principles", "training_principles_creation", request_data, **kwargs
    )


def log_workout_revision(user, request_data=None, **kwargs):
    """Log a `POST /workouts/{workout_id}/revise` call."""
    return log_llm_call(
        user, "workouts/{workout_id}/revise", "workout_revision", request_data, **kwargs
    )


def log_workout_revision_accept(user, request_data=None, **kwargs):
    """Log a `POST /workouts/{workout_id}/revise/accept` call."""
    return log_llm_call(
        user, "workouts/{workout_id}/revise/accept", "workout_revision_accept", request_data, **kwargs
    )
