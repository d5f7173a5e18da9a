"""The request id and job id of what this thread is doing, for log lines and log rows.

Context variables, not thread locals: a Celery thread pool runs one task per thread, and
each task sets (and resets) its own ids around the run.
"""

import re
import secrets
from contextlib import contextmanager
from contextvars import ContextVar

request_id_var = ContextVar("request_id", default=None)
job_id_var = ContextVar("job_id", default=None)

# A client's own X-Request-ID is kept when it is 1-128 of these characters (SPEC section 14).
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def valid_request_id(value):
    """True for a request id a client may choose."""
    return bool(value) and _VALID_REQUEST_ID.fullmatch(value) is not None


def new_request_id():
    """A fresh request id: 32 hex characters."""
    return secrets.token_hex(16)


@contextmanager
def job_context(job_id, request_id):
    """Mark the log lines of the block as those of this job and of the request that made it."""
    job_token = job_id_var.set(str(job_id) if job_id else None)
    request_token = request_id_var.set(request_id)
    try:
        yield
    finally:
        job_id_var.reset(job_token)
        request_id_var.reset(request_token)
