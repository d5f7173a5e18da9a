"""Request bodies and headers: JSON objects only, validated field by field."""

from functools import wraps

from apiflask import fields
from flask import request
from marshmallow import ValidationError, validate

from webapp.errors import ApiError, ValidationFailed

MAX_INT = 2**31 - 1


def _storable(value):
    # PostgreSQL text cannot hold NUL, and lone surrogates cannot be encoded.
    if "\x00" in value:
        raise ValidationError("Must not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError("Must be valid Unicode text.") from exc


def text(min_length=1, max_length=4000, **kwargs):
    """A string field of bounded length that PostgreSQL can store."""
    return fields.String(
        validate=[validate.Length(min=min_length, max=max_length), _storable], **kwargs
    )


class JsonInteger(fields.Integer):
    """An integer as JSON Schema counts them: 3 and 3.0 pass; "3", 3.5 and true do not."""

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return super()._validated(value)


def integer(minimum, maximum, **kwargs):
    """A JSON integer field within bounds."""
    return JsonInteger(validate=validate.Range(min=minimum, max=maximum), **kwargs)


def check_json_body(optional=False):
    """415 unless the body is JSON; 400 for malformed JSON, an empty body or a non-object."""
    has_body = bool(request.content_length) or bool(request.get_data(cache=True))
    if optional and not has_body:
        return
    if not request.is_json:
        raise ApiError(415)
    if not has_body:
        raise ValidationFailed({"body": "The body is empty; send a JSON object."})
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        data = None
    if data is None:
        raise ValidationFailed({"body": "The body is not valid JSON."})
    if not isinstance(data, dict):
        raise ValidationFailed({"body": "The body must be a JSON object."})


def json_body(bp, schema, *, optional=False):
    """Decorator: check the body is a JSON object, then validate it with `schema` (passed
    to the view as `body`). Put it below the permission decorator: authentication first."""

    def decorator(view):
        validated = bp.input(schema, location="json", arg_name="body")(view)

        @wraps(validated)
        def wrapper(*args, **kwargs):
            check_json_body(optional)
            return validated(*args, **kwargs)

        return wrapper

    return decorator


def idempotency_key():
    """The Idempotency-Key header, if sent: 1-255 visible ASCII characters."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not all(33 <= ord(ch) <= 126 for ch in key):
        raise ValidationFailed(
            {"Idempotency-Key": "Must be 1-255 visible ASCII characters."}
        )
    return key
