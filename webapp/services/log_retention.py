"""Retention of the call log (SPEC section 13): rows older than LOG_RETENTION_DAYS go.

Whole monthly partitions that are entirely past go at once (DROP TABLE, with their rollup
buckets, which hold exactly their rows since partitions and buckets share UTC bounds); the
rest are deleted a small batch per statement, so no statement holds the table for long and
the rollups follow through the log table's statement triggers. A DROP fires no trigger, so
the rollup buckets of a dropped month are deleted in the same transaction: the rollups stay
equal to the rows either way. A drop holds the log table's lock for a moment (the detach,
the drop and the month's rollup buckets); it waits at most 2 s for that lock and otherwise
tries again at the next sweep.
"""

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from webapp.extensions import db
from webapp.services.log_partitions import _LOCK_KEY as _PARTITIONS_LOCK
from webapp.services.log_rollups import ROLLUP_TABLES

log = logging.getLogger(__name__)

BATCH_ROWS = 5000
_PARTITION_NAME = re.compile(r"llm_call_logs_y(\d{4})m(\d{2})")
# A DROP waits at most this long for the table; busy, it is tried again at the next sweep.
_LOCK_TIMEOUT = "2s"
# SKIP LOCKED: the sweepers of several workers take different batches instead of queueing.
_DELETE_BATCH = text("""
    DELETE FROM llm_call_logs WHERE (id, "timestamp") IN (
        SELECT id, "timestamp" FROM llm_call_logs WHERE "timestamp" < :cutoff LIMIT :batch
        FOR UPDATE SKIP LOCKED)
""")


@dataclass
class Purged:
    """What one retention pass removed."""

    rows: int = 0
    partitions: int = 0


def cutoff_for(days, now=None):
    """The instant before which rows are removed."""
    return (now or datetime.now(timezone.utc)) - timedelta(days=days)


def purge(days, now=None, batch=BATCH_ROWS):
    """Remove the log rows older than `days` days; return how many rows and partitions went."""
    cutoff = cutoff_for(days, now)
    purged = Purged()
    for name, lo, hi in _past_partitions(cutoff):
        dropped = _drop_partition(name, lo, hi)
        if dropped is not None:
            purged.rows += dropped
            purged.partitions += 1
    while True:
        with db.engine.begin() as conn:
            removed = conn.execute(_DELETE_BATCH, {"cutoff": cutoff, "batch": batch}).rowcount
        purged.rows += removed
        if removed < batch:
            break
    if purged.rows:
        log.info("Retention removed %d log row(s) older than %d days (%d partition(s) dropped)",
                 purged.rows, days, purged.partitions)
    return purged


def _past_partitions(cutoff):
    """(name, lo, hi) of the monthly partitions whose whole month is before `cutoff`."""
    names = db.session.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'llm_call_logs'::regclass ORDER BY c.relname")).all()
    db.session.rollback()
    for name in names:
        match = _PARTITION_NAME.fullmatch(name)
        if not match:
            continue
        lo = datetime(int(match[1]), int(match[2]), 1, tzinfo=timezone.utc)
        hi = (lo + timedelta(days=32)).replace(day=1)
        if hi <= cutoff:
            yield name, lo, hi


def _drop_partition(name, lo, hi):
    """Drop one past partition and its rollup buckets in one transaction; its row count,
    or None when another process holds the partitions or the table is busy."""
    try:
        with db.engine.begin() as conn:
            if not conn.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"),
                               {"key": _PARTITIONS_LOCK}):
                return None
            conn.execute(text(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'"))
            # DETACH locks the log table, then the partition: the order readers lock them in,
            # so a reader waits for the drop (or the drop gives up) and neither deadlocks.
            # From here to the commit no row of that month can arrive or leave.
            conn.execute(text(f'ALTER TABLE llm_call_logs DETACH PARTITION "{name}"'))
            # The rollup counts the month's rows exactly, without reading them.
            rows = conn.scalar(text(
                "SELECT coalesce(sum(calls), 0) FROM llm_log_rollup_user_calls "
                "WHERE grain = 'day' AND bucket >= :lo AND bucket < :hi"), {"lo": lo, "hi": hi})
            conn.execute(text(f'DROP TABLE "{name}"'))
            for table in ROLLUP_TABLES:
                conn.execute(text(f"DELETE FROM {table} WHERE bucket >= :lo AND bucket < :hi"),
                             {"lo": lo, "hi": hi})
    except Exception:
        log.warning("Could not drop the past log partition %s now; trying again later", name,
                    exc_info=True)
        return None
    log.info("Dropped the log partition %s (%d rows)", name, rows)
    return rows
