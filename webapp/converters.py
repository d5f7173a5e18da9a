"""Path converters for ids that match any segment, so authentication comes first.

SPEC: a request without a valid token to any existing route pattern, whatever id it
names, is 401. Werkzeug's own `int` and `uuid` converters would refuse `/workouts/abc`
before the view (and its authentication) runs, answering 404. These match any segment
and hand the view None for an id that cannot exist, which it answers with 404 after
authenticating. They replace `int` and `uuid`, so the OpenAPI document still types the
ids as integers.
"""

import re
import uuid

from werkzeug.routing import BaseConverter

from webapp.db_limits import INT8_MAX

# Canonical only (SPEC 4): no leading zero, sign, exponent or non-ASCII digit.
_DIGITS = re.compile(r"[1-9][0-9]{0,18}")


class IdConverter(BaseConverter):
    """An integer id: the int it spells, or None for anything else.

    `<int(exclude="events"):rule_id>` leaves one literal segment to a sibling route, so
    that `/admin/alerts/events` is not also taken for a rule id (its Allow header would
    name the id route's methods too).
    """

    def __init__(self, url_map, exclude=None):
        super().__init__(url_map)
        if exclude:
            self.regex = rf"(?!{re.escape(exclude)}$)[^/]+"

    def to_python(self, value):
        """The segment as an int if it is a possible int8 id (1 and up), else None."""
        if _DIGITS.fullmatch(value) and int(value) <= INT8_MAX:
            return int(value)
        return None


class UuidConverter(BaseConverter):
    """A UUID id: the UUID it spells, or None for anything else."""

    def to_python(self, value):
        """The segment as a UUID if it spells one in its lower-case dashed form, else None."""
        try:
            parsed = uuid.UUID(value)
        except ValueError:
            return None
        # uuid.UUID also takes upper case, braces, a urn: prefix and no dashes (SPEC 4: no).
        return parsed if str(parsed) == value else None


def register(app):
    """Install the converters under the names `int` and `uuid`."""
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["uuid"] = UuidConverter
