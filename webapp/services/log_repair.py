"""Fits a log row to its columns, so the database never refuses a row for its content.

A value too long for its column is cut, a NUL character (which PostgreSQL cannot store) is
replaced, an integer out of range or `request_data` that is not JSON is nulled. Each such
repair is counted by field in `REPAIRED` (through `count_repair`, the one place a metric
hooks into), so a row is stored, not parked, and the repairs still show.
"""

import json
import logging
import math
import threading
from collections import Counter
from decimal import Decimal, InvalidOperation

from sqlalchemy import Integer, Numeric, String

from webapp import metrics
from webapp.models import LlmCallLog

log = logging.getLogger(__name__)

# Repairs made by this process, by field name; read it with repaired_counts().
REPAIRED = Counter()
_lock = threading.Lock()
_INT_MAX = 2**31 - 1
_COLUMNS = LlmCallLog.__table__.columns
_STRING_LENGTHS = {c.name: c.type.length for c in _COLUMNS
                   if isinstance(c.type, String) and c.type.length}
_INTEGERS = {c.name for c in _COLUMNS if type(c.type) is Integer}
_NUMERIC_MAX = {c.name: Decimal(10) ** (c.type.precision - c.type.scale)
                for c in _COLUMNS if isinstance(c.type, Numeric) and c.type.precision}
# Columns every row keeps whatever happens; the rest may be nulled as a last resort.
REQUIRED = frozenset({"call_id", "user_id", "endpoint_name", "method", "timestamp", "success",
                      "http_status_code", "duration_ms", "job_id", "attempt", "error_type",
                      "llm_operation_type", "workout_id", "training_plan_id", "queue_wait_ms"})


def count_repair(field):
    """Count one repaired field of a log row, here and in llm_log_fields_repaired_total."""
    with _lock:
        REPAIRED[field] += 1
    metrics.record_repair(field)


def repaired_counts():
    """A copy of this process's repair counts, by field."""
    with _lock:
        return dict(REPAIRED)


def fit(row):
    """Return the row with every value fitted to its column; repairs are counted."""
    fitted = dict(row)
    for name, value in row.items():
        new = _fit_value(name, value)
        if new is not value:
            fitted[name] = new
            count_repair(name)
            log.warning("Log row %s: %s did not fit its column and was %s", row.get("call_id"),
                        name, "cut" if new is not None else "nulled")
    return fitted


def strip_optional(row):
    """The last resort for a row the database still refuses: null every optional field."""
    stripped = {name: value for name, value in row.items() if name in REQUIRED}
    for name in set(row) - REQUIRED:
        if row[name] is not None:
            count_repair(name)
    stripped["error_message"] = "[log row content refused by the database; fields dropped]"
    return stripped


def _fit_value(name, value):
    if value is None:
        return value
    if name == "request_data":
        return _fit_json(value)
    if isinstance(value, str):
        clean = value.replace("\x00", "\ufffd")
        limit = _STRING_LENGTHS.get(name)
        if limit and len(clean) > limit:
            clean = clean[:limit]
        return value if clean == value else clean
    if name in _INTEGERS:
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > _INT_MAX:
            return None
        return value
    if name in _NUMERIC_MAX:
        try:
            number = Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            return None
        return value if number.is_finite() and abs(number) < _NUMERIC_MAX[name] else None
    return value


def _fit_json(value):
    """request_data as a JSON object PostgreSQL takes (no NUL, no NaN), else null."""
    if not isinstance(value, dict):
        return None
    try:
        text = json.dumps(value, allow_nan=False, default=_refuse)
    except (TypeError, ValueError):
        return None
    if "\\u0000" in text:
        return json.loads(text.replace("\\u0000", "\\ufffd"))
    return value


def _refuse(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError("not finite")
    raise TypeError(type(obj).__name__)
