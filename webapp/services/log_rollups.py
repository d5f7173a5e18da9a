"""Aggregates over a time window read from the rollups, exact at any size (SPEC section 8).

The log table's triggers keep the rollups (webapp.models.log_rollup) equal to the rows: sums
per day, and for everyone's calls also per hour. A window `[since, until)` is read as whole
days, whole hours at its edges where the rollup keeps hours, and raw rows for the ragged rest,
all in one statement, so the answer is one snapshot of the table. An edge is read the
cheaper way, added up to the next whole bucket or subtracted back to the last one, so it
never reads more than half a bucket of finer rows: everyone's 30 days read about 30 day rows,
up to 24 hour rows and under an hour of raw rows per group; one user's read 30 day rows and
under half a day of that user's raw rows.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import text

from webapp.extensions import db
from webapp.models import log_rollup

_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
# llm_duration_bucket (migration 0004): exact below 128 ms, then buckets 1.5 % wide.
_EXACT_BELOW_MS = 128
_BUCKET_RATIO = 1.015
CENT = Decimal("0.01")
_MAX_DURATION_MS = 2**31 - 1  # duration_ms is an integer column


def _bucket_floors():
    """The first whole millisecond of each llm_duration_bucket from 128 ms on: 128 × 1.015^k
    rounded up, computed exactly (1.015 = 203/200)."""
    floors, k = [], 0
    while True:
        floor_ms = -(-_EXACT_BELOW_MS * 203**k // 200**k)
        if floor_ms > _MAX_DURATION_MS:
            return floors
        floors.append(floor_ms)
        k += 1


BUCKET_FLOORS = _bucket_floors()
# Bound as an array literal: psycopg takes 0.7 ms to send a list of 1,118 numbers as an array.
_BUCKET_FLOORS_LITERAL = "{" + ",".join(str(floor) for floor in BUCKET_FLOORS) + "}"


def duration_bucket_sql(column):
    """SQL equal to llm_duration_bucket(column) for integer durations, found by binary search
    in BUCKET_FLOORS (bound as :bucket_floors). Since migration 0013 the SQL function does the
    same search; before, it took a numeric ln() per row (about 4 µs, most of the time of
    reading a heavy user's raw edge), which is why the reads spell it out."""
    floors = "CAST(:bucket_floors AS integer[])"
    return (f"CASE WHEN {column} < {_EXACT_BELOW_MS} THEN {column}"
            f" ELSE {_EXACT_BELOW_MS - 1} + width_bucket({column}, {floors}) END")


@dataclass(frozen=True)
class Part:
    """One piece of a window: raw rows, or rollup buckets of one grain, in `[lo, hi)`."""

    source: str  # "raw", "hour" or "day"
    lo: datetime | None
    hi: datetime | None
    sign: int = 1  # -1: counted in a coarser bucket of the window but outside the window


def _floor(moment, grain):
    moment = moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if grain == "day" else moment


def _ceil(moment, grain):
    floor = _floor(moment, grain)
    return floor if floor == moment else floor + _STEP[grain]


USER_GRAINS = ("day",)
ROLLUP_TABLES = tuple(table.name for table in log_rollup.TABLES)


def window_parts(since=None, until=None, grains=("hour", "day")):
    """Split `[since, until)` (None: unbounded) into whole buckets of the grains a rollup keeps
    (whole hours at the edges of whole days, or whole days alone) and finer parts at the edges;
    with no grains, the window is one raw part.

    A ragged edge is read the cheaper way: the finer part up to the next whole bucket added,
    or the whole bucket taken and the finer part outside the window subtracted, whichever
    covers less time; so an edge never reads more than half a bucket of finer rows.
    """
    lo = since.astimezone(timezone.utc) if since is not None else None
    hi = until.astimezone(timezone.utc) if until is not None else None
    if lo is not None and hi is not None and lo >= hi:
        return []
    if not grains:
        return [Part("raw", lo, hi)]
    parts = []
    for grain, finer in zip(grains, ("raw", *grains)):
        if lo is not None and hi is not None and _ceil(lo, grain) >= _floor(hi, grain):
            parts.append(Part(finer, lo, hi))
            return parts
        if lo is not None and _floor(lo, grain) != lo:
            part, lo = _edge(finer, lo, grain, outward=_floor, inward=_ceil)
            parts.append(part)
        if hi is not None and _floor(hi, grain) != hi:
            part, hi = _edge(finer, hi, grain, outward=_ceil, inward=_floor)
            parts.append(part)
    parts.append(Part(grains[-1], lo, hi))
    return parts


def _edge(finer, moment, grain, outward, inward):
    """The finer part at one ragged edge and the bucket boundary the window moves to: out to
    the whole bucket with the part outside subtracted, or in to the next boundary with the
    part inside added, whichever part is shorter."""
    out, into = outward(moment, grain), inward(moment, grain)
    if abs(moment - out) < abs(into - moment):
        return Part(finer, min(out, moment), max(out, moment), -1), out
    return Part(finer, min(into, moment), max(into, moment)), into


class WindowQuery:
    """Builds `UNION ALL` branches, one per part of a window, with their bound parameters."""

    def __init__(self, since=None, until=None, params=None, grains=("hour", "day")):
        self.parts = window_parts(since, until, grains)
        self.params = dict(params or {})

    def branches(self, rollup_sql, raw_sql):
        """`rollup_sql` and `raw_sql` are SELECTs with a `{where}` slot for the part's bounds;
        rollup branches get `grain = ... AND bucket ...`, raw ones `"timestamp" ...`. Each
        branch's rows come with the part's sign first, for the outer sums to multiply by.
        Either None: that kind of branch is left out (a statement that reads the raw rows
        once, for more than one rollup, makes them in a call of their own)."""
        selects = []
        for number, part in enumerate(self.parts):
            if (raw_sql if part.source == "raw" else rollup_sql) is None:
                continue
            column = '"timestamp"' if part.source == "raw" else "bucket"
            bounds = []
            if part.source != "raw":
                bounds.append(f"grain = '{part.source}'")
            if part.lo is not None:
                self.params[f"lo{number}"] = part.lo
                bounds.append(f"{column} >= :lo{number}")
            if part.hi is not None:
                self.params[f"hi{number}"] = part.hi
                bounds.append(f"{column} < :hi{number}")
            where = " AND ".join(bounds) or "TRUE"
            branch = (raw_sql if part.source == "raw" else rollup_sql).format(where=where)
            selects.append(f"SELECT {part.sign}, part.* FROM ({branch}) AS part")
        if not selects:
            empty = raw_sql if raw_sql is not None else rollup_sql
            selects.append(f"SELECT 1, part.* FROM ({empty.format(where='FALSE')}) AS part")
        return "\nUNION ALL\n".join(selects)

    def execute(self, sql):
        """Run the finished statement with every part's parameters."""
        params = self.params
        if ":bucket_floors" in sql:
            params = {**params, "bucket_floors": _BUCKET_FLOORS_LITERAL}
        return db.session.execute(text(sql), params)


def filter_sql(conditions, params):
    """`AND col = :col ...` for the given column values (None: no condition)."""
    clauses = []
    for column, value in conditions.items():
        if value is not None:
            params[column] = value
            clauses.append(f"AND {column} = :{column}")
    return " ".join(clauses)


def percentiles(histogram, fractions):
    """percentile_cont of each fraction from (duration_bucket, count) pairs sorted by bucket;
    within 0.75 % of the exact value (exact below 128 ms). None without durations."""
    histogram = [(bucket, int(count)) for bucket, count in histogram if count > 0]
    total = sum(count for _, count in histogram)
    if total == 0:
        return [None for _ in fractions]
    answers = []
    for fraction in fractions:
        rank = fraction * (total - 1)
        low = _value_at(histogram, math.floor(rank))
        high = _value_at(histogram, math.ceil(rank))
        value = low + (rank - math.floor(rank)) * (high - low)
        # As PostgreSQL casts double precision to numeric: 15 significant digits, then round.
        answers.append(float(Decimal(f"{value:.15g}").quantize(CENT, ROUND_HALF_UP)))
    return answers


def _value_at(histogram, index):
    seen = 0
    for bucket, count in histogram:
        seen += count
        if index < seen:
            return _bucket_value(bucket)
    return _bucket_value(histogram[-1][0])


def _bucket_value(bucket):
    """A bucket's representative duration: itself below 128 ms, else its geometric middle."""
    if bucket < _EXACT_BELOW_MS:
        return float(bucket)
    return _EXACT_BELOW_MS * _BUCKET_RATIO ** (bucket - _EXACT_BELOW_MS + 0.5)


def percent(part, whole):
    """part ÷ whole × 100 to 2 decimals, rounded as PostgreSQL's round(numeric, 2) does."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(CENT, ROUND_HALF_UP)


def mean(total, count):
    """total ÷ count to 2 decimals as round(avg(...), 2) gives it; None over no values."""
    if not count:
        return None
    return (Decimal(total) / Decimal(count)).quantize(CENT, ROUND_HALF_UP)


def rebuild():
    """Recount every rollup from the rows (after rows were loaded with triggers disabled);
    returns the number of rows counted. Writers wait while it runs."""
    counted = db.session.scalar(text("SELECT llm_log_rollups_rebuild()"))
    db.session.commit()
    db.session.execute(text("ANALYZE " + ", ".join(ROLLUP_TABLES)))
    db.session.commit()
    return counted


def utc_now():
    """Now, in UTC."""
    return datetime.now(timezone.utc)
