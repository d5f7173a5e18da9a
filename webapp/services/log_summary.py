"""A user's usage summary over the last days: counts, success rate, durations, breakdowns."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import Numeric, cast, func, select

from webapp.extensions import db
from webapp.models import LlmCallLog

TOP_ENDPOINTS = 10


def user_summary(user_id, days, now=None):
    """The summary of the user's calls in the last `days` × 24 hours, keys in the seed's order."""
    now = now or datetime.now(timezone.utc)
    since = now - timedelta(days=days)
    in_window = (LlmCallLog.user_id == user_id, LlmCallLog.timestamp >= since)
    totals = _totals(in_window)
    groups = _breakdowns(in_window)
    return {
        "total_calls": totals.total_calls,
        "successful_calls": totals.successful_calls,
        "failed_calls": totals.total_calls - totals.successful_calls,
        "success_rate": _number(totals.success_rate) or 0.0,
        "average_duration_ms": _number(totals.average_duration_ms),
        "most_used_endpoints": _most_first(groups["endpoint_name"], limit=TOP_ENDPOINTS),
        "operation_types": _most_first(groups["llm_operation_type"]),
        "error_types": _most_first(groups["error_type"]),
        "date_range": f"{since.date().isoformat()} to {now.date().isoformat()}",
        "p50_duration_ms": _number(totals.p50_duration_ms),
        "p95_duration_ms": _number(totals.p95_duration_ms),
        "total_tokens": int(totals.total_tokens),
        "total_cost_usd": _number(totals.total_cost_usd),
        "daily": _daily(groups["day"], since.date(), now.date()),
    }


def _totals(in_window):
    """Counts, rates and duration figures in one pass; rounding in SQL numeric, so it is exact."""
    calls = func.count()
    successful = func.count().filter(LlmCallLog.success.is_(True))
    return db.session.execute(
        select(
            calls.label("total_calls"),
            successful.label("successful_calls"),
            func.round(successful * Decimal("100.0") / func.nullif(calls, 0), 2).label(
                "success_rate"
            ),
            func.round(func.avg(LlmCallLog.duration_ms), 2).label("average_duration_ms"),
            _percentile(0.5).label("p50_duration_ms"),
            _percentile(0.95).label("p95_duration_ms"),
            func.coalesce(func.sum(LlmCallLog.total_tokens), 0).label("total_tokens"),
            func.coalesce(func.sum(LlmCallLog.cost_usd), 0).label("total_cost_usd"),
        ).where(*in_window)
    ).one()


def _percentile(fraction):
    # percentile_cont answers double precision, which round(x, 2) does not take in PostgreSQL.
    median = func.percentile_cont(fraction).within_group(LlmCallLog.duration_ms)
    return func.round(cast(median, Numeric), 2)


def _breakdowns(in_window):
    """Calls by endpoint, by operation type, by error type (failed calls) and by UTC day.

    One GROUPING SETS query reads the user's window once (through the user/timestamp index)
    instead of once per breakdown.
    """
    day = func.date(func.timezone("UTC", LlmCallLog.timestamp))
    columns = {
        "endpoint_name": LlmCallLog.endpoint_name,
        "llm_operation_type": LlmCallLog.llm_operation_type,
        "error_type": LlmCallLog.error_type,
        "day": day,
    }
    stmt = (
        select(
            *(column.label(name) for name, column in columns.items()),
            *(func.grouping(column).label(f"grouped_out_{name}")
              for name, column in columns.items()),
            func.count().label("calls"),
            func.count().filter(LlmCallLog.success.is_(False)).label("failed"),
        )
        .where(*in_window)
        .group_by(func.grouping_sets(*columns.values()))
    )
    groups = {name: {} for name in columns}
    for row in db.session.execute(stmt):
        for name in columns:
            key = getattr(row, name)
            # GROUPING(col) is 0 in the rows of col's own set; NULL keys (no operation type, no
            # error type) are not a kind of call to report.
            if getattr(row, f"grouped_out_{name}") == 0 and key is not None:
                if name == "error_type":
                    if row.failed:
                        groups[name][key] = row.failed
                elif name == "day":
                    groups[name][key] = (row.calls, row.failed)
                else:
                    groups[name][key] = row.calls
    return groups


def _most_first(counts, limit=None):
    """Name → count, most first, ties by name; a dict keeps that order in the JSON."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit])


def _daily(by_day, first, last):
    """One entry per UTC date of the window, days without calls included."""
    days = []
    date = first
    while date <= last:
        calls, failed = by_day.get(date, (0, 0))
        days.append({"date": date.isoformat(), "total_calls": calls, "failed_calls": failed})
        date += timedelta(days=1)
    return days


def _number(value):
    """A SQL numeric as a JSON number; None stays None."""
    return None if value is None else float(value)
