"""Request bodies: JSON objects only, validated field by field."""

import json
from functools import wraps

from flask import request

from webapp.errors import ApiError, ValidationFailed


def check_json_body(optional=False):
    """400 for an empty body, malformed JSON or a non-object; 415 for a body that is not JSON."""
    raw = request.get_data(cache=True)  # cached: the schema's parser reads it again
    if not raw:
        if optional:
            return
        raise ValidationFailed({"body": "The body is empty; send a JSON object."})
    if not request.is_json:
        raise ApiError(415)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ValidationFailed({"body": "The body is not valid JSON."}) from None
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

        # Read by the spec processor (webapp.errors) to mark the body optional in the document.
        wrapper._spec["body_optional"] = optional
        return wrapper

    return decorator
