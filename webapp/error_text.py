"""An error's text for people: what a job's `error.message` and a log's `error_message` say.

SPEC 9: such a text never carries a secret or an internal detail. The openai client's errors
quote the provider's answer (a 401's names a fragment of the API key) and database errors name
the host, port, user and SQL; those are summarised here by what happened, and their raw text
goes only to the server-side log. Other errors keep their own text (ours are written for
people), with anything shaped like an API key taken out.
"""

import logging
import re

import psycopg
import sqlalchemy.exc
from apiflask import HTTPError
from werkzeug.exceptions import HTTPException

from webapp.errors import DATABASE_UNAVAILABLE

log = logging.getLogger(__name__)

# Things shaped like API keys: OpenAI's sk-..., and bearer tokens quoted back.
_KEY_LIKE = re.compile(r"(sk-[A-Za-z0-9_*-]{3,}|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,})")


def public_message(exc):
    """The text of `exc` that a user may read."""
    summary = _summary(exc)
    if summary is not None:
        log.warning("%s summarised for the user as %r: %s", type(exc).__name__, summary,
                    " ".join(str(exc).split())[:500])
        return summary
    return _KEY_LIKE.sub("[REDACTED]", _own_text(exc))


def _summary(exc):
    """A summary for the errors whose own text must not be shown; None for the others."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status == 429:
            return f"The LLM provider rate-limited the request ({status})."
        if status >= 500:
            return f"The LLM provider failed to answer ({status})."
        return f"The LLM provider refused the request ({status})."
    if isinstance(exc, openai.APITimeoutError):
        return "The LLM provider did not answer in time."
    if isinstance(exc, openai.APIConnectionError):
        return "The LLM provider could not be reached."
    if isinstance(exc, openai.OpenAIError):
        return "The LLM provider's answer could not be used."
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return "The database was unavailable."
    if isinstance(exc, (sqlalchemy.exc.SQLAlchemyError, psycopg.Error)):
        return "The database refused the operation."
    return None


def _own_text(exc):
    """An exception's own text: an HTTP error's message, not its repr with the status."""
    if isinstance(exc, HTTPError):
        return str(exc.message or "")
    if isinstance(exc, HTTPException):
        return str(exc.description or exc.name)
    return str(exc)
