"""The log table's monthly partitions, made ahead of time by the workers (SPEC section 17).

`llm_call_logs_ensure_partition(month)` (migration 0004) makes one month's partition and moves
that month's rows out of the default partition if any wait there. Every worker's sweeper calls
`ensure_ahead`; an advisory lock lets one of them do the DDL at a time, and a lock timeout keeps
a busy table from holding the sweeper up (it tries again at the next sweep).
"""

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from webapp.extensions import db

log = logging.getLogger(__name__)

MONTHS_AHEAD = 3
# pg_advisory_xact_lock key: "llm_call_logs partitions".
_LOCK_KEY = 0x11C_0A27


def months_between(first, last):
    """The first day of each month from `first`'s to `last`'s, both included."""
    month = first.replace(day=1)
    while month <= last:
        yield month
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def ensure_months(first, last, wait=False):
    """Make the partitions of the months from `first` to `last`; return the months made.
    Without `wait`, it gives up at once when another process is making partitions."""
    made = []
    with db.engine.begin() as conn:
        if wait:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        elif not conn.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _LOCK_KEY}):
            return made
        conn.execute(text("SET LOCAL lock_timeout = '5s'"))
        for month in months_between(first, last):
            if conn.scalar(text("SELECT llm_call_logs_ensure_partition(:m)"), {"m": month}):
                made.append(month)
    if made:
        log.info("Made log partitions for %s", ", ".join(m.strftime("%Y-%m") for m in made))
    return made


def ensure_ahead(months=MONTHS_AHEAD, today=None):
    """Make the partitions of this month and the next `months`; return the months made."""
    today = today or datetime.now(timezone.utc).date()
    last = today.replace(day=1)
    for _ in range(months):
        last = (last.replace(day=28) + timedelta(days=4)).replace(day=1)
    return ensure_months(today, last)


def partition_names():
    """The log table's partitions by name, oldest bound first, the default partition last."""
    rows = db.session.execute(text("""
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'llm_call_logs'::regclass ORDER BY c.relname = 'llm_call_logs_default', c.relname
    """))
    return [row.relname for row in rows]
