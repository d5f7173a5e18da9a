"""Durations per UTC day: the latency chart of the dashboard.

One user's p50/p95 per day come from the same duration histogram as my-summary's percentiles
(webapp.services.log_rollups); everyone's from the global rollup, which keeps sums and no
histogram, so for everyone a day has its average duration.
"""

from datetime import timedelta

from webapp.services.log_rollups import (
    USER_GRAINS, WindowQuery, duration_bucket_sql, mean, percentiles, utc_now,
)

_USER_DURATIONS = """
SELECT date_trunc('day', bucket, 'UTC') AS day, duration_bucket, calls
FROM llm_log_rollup_user_durations WHERE user_id = :user_id AND {where}
"""
_RAW_USER_DURATIONS = """
SELECT date_trunc('day', "timestamp", 'UTC'), """ + duration_bucket_sql("duration_ms") + """, 1
FROM llm_call_logs WHERE user_id = :user_id AND duration_ms IS NOT NULL AND {where}
"""
_GLOBAL_DURATIONS = """
SELECT date_trunc('day', bucket, 'UTC') AS day, duration_count, duration_sum
FROM llm_log_rollup_global WHERE {where}
"""
_RAW_GLOBAL_DURATIONS = """
SELECT date_trunc('day', "timestamp", 'UTC'), (duration_ms IS NOT NULL)::integer,
       coalesce(duration_ms, 0)
FROM llm_call_logs WHERE {where}
"""


def _dates(since, now):
    date, dates = since.date(), []
    while date <= now.date():
        dates.append(date)
        date += timedelta(days=1)
    return dates


def user_daily_latency(user_id, days, now=None):
    """The user's p50 and p95 duration for each UTC date of the last `days` × 24 hours
    (None on a day without durations), dates as my-summary's `daily` names them."""
    now = now or utc_now()
    since = now - timedelta(days=days)
    window = WindowQuery(since, params={"user_id": user_id}, grains=USER_GRAINS)
    parts = window.branches(_USER_DURATIONS, _RAW_USER_DURATIONS)
    rows = window.execute(f"""
        SELECT day, duration_bucket, sum(sign * calls) AS calls
        FROM ({parts}) AS parts(sign, day, duration_bucket, calls)
        GROUP BY day, duration_bucket HAVING sum(sign * calls) > 0
        ORDER BY day, duration_bucket
    """).all()
    histograms = {}
    for row in rows:
        histograms.setdefault(row.day.date(), []).append((row.duration_bucket, row.calls))
    series = []
    for date in _dates(since, now):
        p50, p95 = percentiles(histograms.get(date, []), (0.5, 0.95))
        series.append({"date": date.isoformat(), "p50_duration_ms": p50, "p95_duration_ms": p95})
    return series


def everyone_daily_latency(days, now=None):
    """Everyone's average duration for each UTC date of the last `days` × 24 hours."""
    now = now or utc_now()
    since = now - timedelta(days=days)
    window = WindowQuery(since)
    parts = window.branches(_GLOBAL_DURATIONS, _RAW_GLOBAL_DURATIONS)
    rows = window.execute(f"""
        SELECT day, sum(sign * duration_count) AS duration_count,
               sum(sign * duration_sum) AS duration_sum
        FROM ({parts}) AS parts(sign, day, duration_count, duration_sum)
        GROUP BY day
    """).all()
    by_day = {row.day.date(): row for row in rows}
    series = []
    for date in _dates(since, now):
        row = by_day.get(date)
        average = mean(row.duration_sum, row.duration_count) if row else None
        series.append({"date": date.isoformat(),
                       "avg_duration_ms": None if average is None else float(average)})
    return series
