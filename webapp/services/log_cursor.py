"""Opaque keyset cursors for the log listings: where the next page starts, signed by the server.

A cursor holds the (timestamp, id) of the last row served and how many rows came before the
next page (no total: each page counts it afresh). It is signed with the app's SECRET_KEY and
bound to the listing and filters it came from, so a cursor the server did not issue, or one
reused with other filters, is refused instead of silently paging something else.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer

from webapp.db_limits import INT8_MAX

_SALT = "llm-logs-cursor-v2"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class InvalidCursor(ValueError):
    """The cursor was not issued by this service for this listing and these filters."""


@dataclass(frozen=True)
class Cursor:
    """The position after a page: its last row's key and the rows before the next page."""

    timestamp: datetime
    id: int
    offset: int


def scope_of(listing, **filters):
    """A short fingerprint of a listing and its filters, which a cursor is bound to."""
    canonical = json.dumps([listing, filters], sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode(cursor, scope):
    """The opaque string a client sends back to get the page after `cursor`."""
    micros = (cursor.timestamp - _EPOCH) // timedelta(microseconds=1)
    return _serializer().dumps([scope, micros, cursor.id, cursor.offset])


def decode(token, scope):
    """The cursor in `token`, or InvalidCursor if it is not one of ours for `scope`."""
    try:
        payload = _serializer().loads(token)
    except (BadData, UnicodeError, ValueError) as exc:
        raise InvalidCursor("Not a cursor issued by this listing.") from exc
    if not (isinstance(payload, list) and len(payload) == 4):
        raise InvalidCursor("Not a cursor issued by this listing.")
    issued_for, micros, row_id, offset = payload
    if issued_for != scope:
        raise InvalidCursor("The cursor belongs to a listing with other filters.")
    if not (_is_int(micros, minimum=-INT8_MAX) and _is_int(row_id) and _is_int(offset)):
        raise InvalidCursor("Not a cursor issued by this listing.")
    try:
        timestamp = _EPOCH + timedelta(microseconds=micros)
    except OverflowError as exc:
        raise InvalidCursor("Not a cursor issued by this listing.") from exc
    return Cursor(timestamp=timestamp, id=row_id, offset=offset)


def _is_int(value, minimum=0):
    # bool is an int in Python; JSON true/false must not pass as a position.
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    return minimum <= value <= INT8_MAX


def _serializer():
    # Compact separators keep the cursor short in a URL.
    return URLSafeSerializer(
        current_app.config["SECRET_KEY"],
        salt=_SALT,
        serializer_kwargs={"separators": (",", ":")},
    )
