"""Field types shared by the API's schemas: what PostgreSQL can store, and UTC times."""

import re
from datetime import timezone

from apiflask import fields
from marshmallow import ValidationError, validate

_INTEGER_TEXT = re.compile(r"-?[0-9]{1,100}")

# PostgreSQL text cannot hold NUL; published in the document as a pattern.
NO_NUL = validate.Regexp(r"^[^\x00]*$", error="Must not contain NUL characters.")


def _encodable(value):
    # A lone surrogate (valid in JSON text, "\ud800") cannot be encoded for the database.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError("Must be valid Unicode text.") from exc


def _not_blank(value):
    if not value.strip():
        raise ValidationError("Must not be only whitespace.")


# Published for text that must not be blank: no NUL, and at least one other character.
_NOT_BLANK_PATTERN = r"^[^\x00]*[^\x00\s][^\x00]*$"


def text(min_length=1, max_length=4000, blank=True, **kwargs):
    """A string field of bounded length that PostgreSQL can store; with blank=False it must
    hold more than whitespace."""
    validators = [validate.Length(min=min_length, max=max_length), NO_NUL, _encodable]
    if not blank:
        validators.append(_not_blank)
        kwargs["metadata"] = {**kwargs.get("metadata", {}), "pattern": _NOT_BLANK_PATTERN}
    return fields.String(validate=validators, **kwargs)


class QueryInteger(fields.Integer):
    """An integer written in ASCII digits, an optional minus and nothing else."""

    def _deserialize(self, value, attr, data, **kwargs):
        # int() alone would also take " 7", "7_0" and non-ASCII digits.
        if isinstance(value, str) and not _INTEGER_TEXT.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class JsonInteger(fields.Integer):
    """An integer as JSON Schema counts them: 3 and 3.0 pass; "3", 3.5 and true do not."""

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return super()._validated(value)


class JsonId(JsonInteger):
    """An id in a body, written in canonical form (SPEC 4): 3 passes; 3.0 and 3e0 name nothing.

    JSON text parses an integer written with a fraction or an exponent to a float, so refusing
    floats refuses exactly those spellings.
    """

    def _validated(self, value):
        if isinstance(value, float):
            raise self.make_error("invalid")
        return super()._validated(value)


def integer(minimum, maximum, **kwargs):
    """A JSON integer field within bounds."""
    return JsonInteger(validate=validate.Range(min=minimum, max=maximum), **kwargs)


def id_integer(maximum, **kwargs):
    """An integer id in a body (1 to `maximum`), written as a plain integer."""
    return JsonId(validate=validate.Range(min=1, max=maximum), **kwargs)


class UtcDateTime(fields.DateTime):
    """An ISO 8601 date-time with offset +00:00, whatever zone the database session used."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None:
            value = value.astimezone(timezone.utc)
        return super()._serialize(value, attr, obj, **kwargs)
