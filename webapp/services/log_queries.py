"""Reading the call log: a caller's own logs, every log for an admin, one log."""

from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, select

from webapp.extensions import db
from webapp.models import LlmCallLog
from webapp.services import log_cursor
from webapp.services.log_rollups import USER_GRAINS, WindowQuery, filter_sql

NEWEST_FIRST = (LlmCallLog.timestamp.desc(), LlmCallLog.id.desc())


@dataclass(frozen=True)
class LogFilters:
    """What a listing is narrowed to; None means no condition on that column."""

    user_id: str | None = None
    endpoint_name: str | None = None
    llm_operation_type: str | None = None
    success: bool | None = None
    since: datetime | None = None  # timestamp >= since
    before: datetime | None = None  # timestamp < before

    def conditions(self):
        """The WHERE clauses of these filters."""
        clauses = []
        for name in ("user_id", "endpoint_name", "llm_operation_type", "success"):
            value = getattr(self, name)
            if value is not None:
                clauses.append(getattr(LlmCallLog, name) == value)
        if self.since is not None:
            clauses.append(LlmCallLog.timestamp >= self.since)
        if self.before is not None:
            clauses.append(LlmCallLog.timestamp < self.before)
        return clauses

    def as_dict(self):
        """The filters by name, for binding a cursor to them."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Page:
    """One page of a listing: its rows, the cursor of the next page, where it starts, the total."""

    items: list
    next_cursor: str | None
    offset: int
    total: int | None = None


def list_own_logs(user_id, *, days, limit, cursor=None, endpoint_name=None,
                  llm_operation_type=None, success=None, now=None):
    """The user's logs of the last `days` × 24 hours, newest first (raises InvalidCursor)."""
    now = now or datetime.now(timezone.utc)
    filters = LogFilters(
        user_id=user_id,
        endpoint_name=endpoint_name,
        llm_operation_type=llm_operation_type,
        success=success,
        since=now - timedelta(days=days),
    )
    # The window moves with the clock, so the cursor is bound to `days`, not to `since`.
    scope = log_cursor.scope_of(
        "own", user_id=user_id, endpoint_name=endpoint_name,
        llm_operation_type=llm_operation_type, success=success, days=days,
    )
    return _page(filters, scope, limit=limit, cursor=cursor)


def list_all_logs(filters, *, limit, offset=0, cursor=None):
    """Every log matching `filters`, newest first, with the total (raises InvalidCursor)."""
    scope = log_cursor.scope_of("all", **filters.as_dict())
    return _page(filters, scope, limit=limit, offset=offset, cursor=cursor, with_total=True)


def count_logs(filters):
    """How many logs match `filters`: rollup sums for the whole hours and days of the window,
    raw rows for its edges (webapp.services.log_rollups)."""
    if filters.user_id is not None:
        rollup, grains = "llm_log_rollup_user", USER_GRAINS
    else:
        rollup, grains = "llm_log_rollup_global", ("hour", "day")
    window = WindowQuery(filters.since, filters.before, grains=grains)
    columns = {
        "user_id": filters.user_id,
        "endpoint_name": filters.endpoint_name,
        "llm_operation_type": filters.llm_operation_type,
        "success": filters.success,
    }
    matching = filter_sql(columns, window.params)
    parts = window.branches(
        f"SELECT calls FROM {rollup} WHERE {{where}} {matching}",
        f"SELECT 1 FROM llm_call_logs WHERE {{where}} {matching}",
    )
    total = window.execute(
        f"SELECT coalesce(sum(sign * calls), 0) FROM ({parts}) AS parts(sign, calls)"
    ).scalar()
    return int(total)


def get_log(log_id, user):
    """The log with this id if `user` owns it or is an admin, else None.

    `log_id` comes from the path's id converter: a possible bigint, or None.
    """
    if log_id is None:
        return None
    stmt = select(LlmCallLog).where(LlmCallLog.id == log_id)
    if not user.is_admin:
        stmt = stmt.where(LlmCallLog.user_id == str(user.id))
    return db.session.scalar(stmt)


def _page(filters, scope, *, limit, offset=0, cursor=None, with_total=False):
    """Rows of one page, by offset or after a cursor; one row more tells whether more follow."""
    stmt = (
        select(LlmCallLog)
        .where(*filters.conditions())
        .order_by(*NEWEST_FIRST)
        .limit(limit + 1)
    )
    if cursor:
        position = log_cursor.decode(cursor, scope)
        # Written out rather than as a row comparison: the bound on timestamp alone is an index
        # condition on both (user_id, timestamp DESC) and (timestamp DESC, id DESC), so a deep
        # page starts its index scan at its position instead of reading every row before it.
        stmt = stmt.where(
            LlmCallLog.timestamp <= position.timestamp,
            or_(LlmCallLog.timestamp < position.timestamp, LlmCallLog.id < position.id),
        )
        offset = position.offset
    else:
        stmt = stmt.offset(offset)
    # Counted for every page, cursor pages too: the total is what the table holds now (SPEC 8).
    total = count_logs(filters) if with_total else None
    rows = db.session.scalars(stmt).all()
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = log_cursor.encode(
            log_cursor.Cursor(last.timestamp, last.id, offset + len(items)), scope
        )
    return Page(items=items, next_cursor=next_cursor, offset=offset, total=total)
