"""One JSON error shape for every error the API can answer (SPEC section 9)."""

import logging

from apiflask import HTTPError
from flask import current_app
from werkzeug.http import HTTP_STATUS_CODES

from webapp.extensions import db

log = logging.getLogger(__name__)

# snake_case codes by HTTP status, for errors that do not name their own.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
}

MESSAGES = {
    401: "A valid bearer token is required.",
    403: "You are not allowed to do this.",
    404: "The resource does not exist.",
    405: "The method is not allowed for this URL.",
    413: "The request body is too large.",
    415: "The request body must be JSON (Content-Type: application/json).",
    500: "An unexpected error occurred.",
}


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


def register(app):
    """Install the error processor and the catch-all 500 handler."""
    app.error_processor(process_error)
    app.register_error_handler(Exception, handle_unexpected)
