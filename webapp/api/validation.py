"""Request bodies: JSON objects only, validated field by field."""

import json
from functools import wraps

from flask import request

from webapp.errors import ApiError, ValidationFailed

# UTF-8's, UTF-16's and UTF-32's (UTF-32 LE's starts like UTF-16 LE's).
_BYTE_ORDER_MARKS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def check_json_body(optional=False):
    """400 for an empty body, malformed JSON or a non-object; 415 for a body that is not JSON."""
    raw = request.get_data(cache=True)  # cached: the schema's parser reads it again
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit:
        # A chunked body is cut at the limit without a word (Werkzeug stops reading there),
        # so one that reaches it is taken as over it: 413, not "not valid JSON".
        raise ApiError(413)
    if not raw:
        if optional:
            return
        raise ValidationFailed({"body": "The body is empty; send a JSON object."})
    # SPEC 9: a Content-Type other than application/json is 415 (Werkzeug's is_json would also
    # take application/*+json types; parameters such as charset are fine).
    if request.mimetype != "application/json":
        raise ApiError(415)
    if raw.startswith(_BYTE_ORDER_MARKS):
        # json.loads would guess the encoding and take it; JSON text is UTF-8 without one.
        raise ValidationFailed({"body": "The body starts with a byte-order mark; send UTF-8 "
                                        "JSON without one."})
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValidationFailed({"body": "The body is not UTF-8 text."}) from None
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
