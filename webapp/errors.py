"""One JSON error shape for every error the API can answer (SPEC section 9)."""

import contextlib
import logging
import re

import psycopg
import sqlalchemy.exc
from apiflask import HTTPError
from flask import current_app
from werkzeug.exceptions import ClientDisconnected
from werkzeug.http import HTTP_STATUS_CODES

from webapp.converters import IdConverter
from webapp.extensions import db

log = logging.getLogger(__name__)

# snake_case codes by HTTP status, for errors that do not name their own.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
}

# Database errors that mean "PostgreSQL is not there (or too slow) right now", not a bug:
# refused or timed-out connections, a connection lost mid-query, a cancelled statement
# (statement_timeout), a pool with no connection free in time.
DATABASE_UNAVAILABLE = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)

MESSAGES = {
    401: "A valid bearer token is required.",
    403: "You are not allowed to do this.",
    404: "The resource does not exist.",
    405: "The method is not allowed for this URL.",
    413: "The request body is too large.",
    408: "The request body did not arrive in time.",
    415: "The request body must be JSON (Content-Type: application/json).",
    500: "An unexpected error occurred.",
    503: "A service this request needs is unavailable; try again shortly.",
}

# Seconds a client is asked to wait before it retries a 503.
RETRY_AFTER_S = 5

# In the OpenAPI document: the header a 429 and a 503 carry.
RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Whole seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _error_document(code_description, details):
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string", "description": code_description},
                    "message": {"type": "string", "description": "A sentence for people."},
                    "details": details,
                },
            }
        },
    }


# The error document in OpenAPI: every error response of every route is described by these.
ERROR_SCHEMA = _error_document("snake_case, e.g. not_found.", {"type": "object"})
VALIDATION_ERROR_SCHEMA = _error_document(
    "validation_error or bad_request.",
    {
        "type": "object",
        "properties": {
            "fields": {
                "type": "object",
                "description": "What is wrong with each bad field, by its name.",
                "additionalProperties": {"type": "string"},
            }
        },
    },
)


class ApiError(HTTPError):
    """An error the API answers on purpose, with a code, a message and details."""

    def __init__(self, status_code, message=None, *, code=None, details=None, headers=None):
        super().__init__(
            status_code,
            message=message or MESSAGES.get(status_code),
            detail=details or {},
            headers=headers,
            extra_data={"code": code or CODES.get(status_code, "error")},
        )


class NotFound(ApiError):
    """404: no such thing, or not the caller's (logged as error_type NotFound)."""

    def __init__(self, message=None):
        super().__init__(404, message)


class Conflict(ApiError):
    """409: the request contradicts the current state (logged as error_type Conflict)."""

    def __init__(self, message, code=None):
        super().__init__(409, message, code=code)


class ValidationFailed(ApiError):
    """400 naming each bad field."""

    def __init__(self, fields, message="The request is invalid."):
        super().__init__(400, message, code="validation_error", details={"fields": fields})


def error_body(status_code, message, code=None, details=None):
    """The SPEC's error document."""
    return {
        "error": {
            "code": code or CODES.get(status_code, "error"),
            "message": message or MESSAGES.get(status_code, "The request failed."),
            "details": details or {},
        }
    }


def _flatten(messages, prefix=""):
    """Turn marshmallow's nested messages into {"a.b": "what is wrong"}."""
    flat = {}
    for key, value in messages.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, prefix=f"{name}."))
        elif isinstance(value, list):
            flat[name] = " ".join(str(v) for v in value)
        else:
            flat[name] = str(value)
    return flat


def process_error(error):
    """APIFlask's error processor: every HTTPError, validation errors included, in our shape."""
    extra = error.extra_data or {}
    details = error.detail or {}
    if error.status_code == current_app.config["VALIDATION_ERROR_STATUS_CODE"] and not extra:
        # A webargs validation error: detail is {"json"|"query": {field: [messages]}}.
        fields = {}
        for location_messages in details.values():
            fields.update(_flatten(location_messages))
        body = error_body(400, "The request is invalid.", "validation_error", {"fields": fields})
        return body, 400, error.headers
    message = error.message
    if error.status_code in MESSAGES and message in (None, "", HTTP_STATUS_CODES.get(error.status_code)):
        message = MESSAGES[error.status_code]
    return error_body(error.status_code, message, extra.get("code"), details), error.status_code, error.headers


def handle_unexpected(exc):
    """500 for anything unexpected: logged with its traceback, answered without it."""
    db.session.rollback()
    log.exception("Unhandled error", exc_info=exc)
    return error_body(500, MESSAGES[500]), 500


def handle_database_unavailable(exc):
    """503 while PostgreSQL is down, unreachable or too slow: one log line, no traceback (a
    traceback per request would flood the log while it lasts)."""
    with contextlib.suppress(Exception):
        db.session.rollback()
    log.warning("PostgreSQL unavailable: %s", database_error_summary(exc))
    return unavailable_response("postgresql")


def unavailable_response(part):
    """The 503 answer for a part (postgresql, redis) that is down."""
    body = error_body(503, MESSAGES[503], details={"service": part})
    return body, 503, {"Retry-After": str(RETRY_AFTER_S)}


def database_error_summary(exc):
    """The kind of a database failure in a few words, for the server-side log line."""
    original = getattr(exc, "orig", None) or exc
    first_line = str(original).strip().splitlines()[:1]
    return f"{type(original).__name__}: {first_line[0] if first_line else ''}"[:300]


def handle_body_timeout(exc):
    """408 when the client stopped sending its body (the server's socket timed out)."""
    return error_body(408, MESSAGES[408]), 408, {"Connection": "close"}


def document_bodies_and_errors(app, spec):
    """Spec processor: every operation may answer 500; one that takes a body also 413 and 415,
    and its body is required unless its view says `_spec["body_optional"] = True`; one that
    takes a bearer token (looked up in PostgreSQL) also 503. A 429 and a 503 carry Retry-After."""
    ref = {"$ref": "#/components/schemas/HTTPError"}
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("HTTPError", ERROR_SCHEMA)
    views = _views_by_operation(app)
    integer_ids = _integer_path_ids(app)
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            statuses = [500]
            if "requestBody" in operation:
                statuses += [413, 415]
                view_spec = getattr(views.get((path, method)), "_spec", {})
                operation["requestBody"]["required"] = not view_spec.get("body_optional", False)
            if operation.get("security"):
                statuses.append(503)
            for status in statuses:
                responses.setdefault(str(status), {
                    "description": MESSAGES[status],
                    "content": {"application/json": {"schema": ref}},
                })
            for status in ("429", "503"):
                if status in responses:
                    responses[status].setdefault("headers", {}).update(RETRY_AFTER_HEADER)
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter["name"] in integer_ids.get(path, ()):
                    parameter["schema"] = {"type": "integer"}
    return spec


def _integer_path_ids(app):
    """{OpenAPI path: names of its integer ids}, also for `int` converters with arguments
    (which APIFlask documents as strings)."""
    ids = {}
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^<:>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        names = {name for name, converter in rule._converters.items()
                 if isinstance(converter, IdConverter)}
        ids.setdefault(path, set()).update(names)
    return ids


def _views_by_operation(app):
    """{(OpenAPI path, method): view function} of the app's routes."""
    views = {}
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^<:>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods:
            views[(path, method.lower())] = app.view_functions[rule.endpoint]
    return views


def register(app):
    """Install the error processor, the catch-all 500 handler and the errors' OpenAPI schemas."""
    app.error_processor(process_error)
    app.register_error_handler(Exception, handle_unexpected)
    for unavailable in DATABASE_UNAVAILABLE:
        app.register_error_handler(unavailable, handle_database_unavailable)
    app.register_error_handler(ClientDisconnected, handle_body_timeout)
    app.config["HTTP_ERROR_SCHEMA"] = ERROR_SCHEMA
    app.config["VALIDATION_ERROR_SCHEMA"] = VALIDATION_ERROR_SCHEMA
    app.spec_processor(lambda spec: document_bodies_and_errors(app, spec))
