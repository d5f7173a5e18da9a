"""The log table's monthly partitions, made ahead of time by the workers (SPEC section 17).

`llm_call_logs_ensure_partition(month)` (migration 0004) makes one month's partition and moves
that month's rows out of the default partition if any wait there. Every worker's sweeper calls
`ensure_ahead`; an advisory lock lets one of them do the DDL at a time, and a lock timeout keeps
a busy table from holding the sweeper up (it tries again at the next sweep).
"""

import logging
from datetime import date, datetime, timezone

from sqlalchemy import text

from webapp.extensions import db

log = logging.getLogger(__name__)

MONTHS_AHEAD = 3
# pg_advisory_xact_lock key: "llm_call_logs partitions".
_LOCK_KEY = 0x11C_0A27


def _months(first, count):
    year, month = first.year, first.month
    for _ in range(count):
        yield date(year, month, 1)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def ensure_ahead(months=MONTHS_AHEAD, today=None):
    """Make the partitions of this month and the next `months`; return the months made."""
    today = today or datetime.now(timezone.utc).date()
    made = []
    with db.engine.begin() as conn:
        locked = conn.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        if not locked:
            return made
        conn.execute(text("SET LOCAL lock_timeout = '5s'"))
        for month in _months(today, months + 1):
            if conn.scalar(text("SELECT llm_call_logs_ensure_partition(:m)"), {"m": month}):
                made.append(month)
    if made:
        log.info("Made log partitions for %s", ", ".join(m.strftime("%Y-%m") for m in made))
    return made


def partition_names():
    """The log table's partitions by name, oldest bound first, the default partition last."""
    rows = db.session.execute(text("""
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'llm_call_logs'::regclass ORDER BY c.relname = 'llm_call_logs_default', c.relname
    """))
    return [row.relname for row in rows]
