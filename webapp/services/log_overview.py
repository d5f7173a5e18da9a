"""Everyone's calls over the last days: the admin dashboard's cards and calls-per-day chart.

Read from the global rollup (webapp.services.log_rollups) like the seed analytics; the
percentiles add up every user's duration histograms, the ones my-summary reads one at a time.
"""

from datetime import timedelta

from webapp.services.log_rollups import (
    USER_GRAINS, WindowQuery, duration_bucket_sql, mean, percent, percentiles, utc_now,
)

_GLOBAL = """
SELECT date_trunc('day', bucket, 'UTC') AS day, success, calls, duration_count, duration_sum,
       total_tokens, cost_usd
FROM llm_log_rollup_global WHERE {where}
"""
_RAW_GLOBAL = """
SELECT date_trunc('day', "timestamp", 'UTC'), success, 1, (duration_ms IS NOT NULL)::integer,
       coalesce(duration_ms, 0), coalesce(total_tokens, 0), coalesce(cost_usd, 0)
FROM llm_call_logs WHERE {where}
"""

_DURATIONS = "SELECT duration_bucket, calls FROM llm_log_rollup_user_durations WHERE {where}"
_RAW_DURATIONS = """
SELECT """ + duration_bucket_sql("duration_ms") + """, 1 FROM llm_call_logs
WHERE duration_ms IS NOT NULL AND {where}
"""


def everyone_percentiles(days, now=None):
    """(p50, p95) of everyone's call durations in the last `days` × 24 hours, from the
    histograms (within 1 % of percentile_cont, as my-summary's); None without durations."""
    now = now or utc_now()
    window = WindowQuery(now - timedelta(days=days), grains=USER_GRAINS)
    parts = window.branches(_DURATIONS, _RAW_DURATIONS)
    rows = window.execute(f"""
        SELECT duration_bucket, sum(sign * calls) AS calls
        FROM ({parts}) AS parts(sign, duration_bucket, calls)
        GROUP BY duration_bucket HAVING sum(sign * calls) <> 0 ORDER BY duration_bucket
    """).all()
    return percentiles([(row.duration_bucket, row.calls) for row in rows], (0.5, 0.95))


def everyone_summary(days, now=None):
    """Calls, outcome, mean duration, tokens, cost and calls per UTC date of everyone's calls
    in the last `days` × 24 hours, under my-summary's key names."""
    now = now or utc_now()
    since = now - timedelta(days=days)
    window = WindowQuery(since)
    parts = window.branches(_GLOBAL, _RAW_GLOBAL)
    rows = window.execute(f"""
        SELECT day, success, sum(sign * calls) AS calls,
               sum(sign * duration_count) AS duration_count,
               sum(sign * duration_sum) AS duration_sum,
               sum(sign * total_tokens) AS total_tokens, sum(sign * cost_usd) AS cost_usd
        FROM ({parts}) AS parts(sign, day, success, calls, duration_count, duration_sum,
                                total_tokens, cost_usd)
        GROUP BY day, success
    """).all()
    total = successful = duration_count = duration_sum = tokens = 0
    cost = 0
    by_day = {}
    for row in rows:
        total += row.calls
        successful += row.calls if row.success else 0
        duration_count += row.duration_count
        duration_sum += row.duration_sum
        tokens += row.total_tokens
        cost += row.cost_usd
        calls, failed = by_day.get(row.day.date(), (0, 0))
        by_day[row.day.date()] = (calls + row.calls, failed + (0 if row.success else row.calls))
    average = mean(duration_sum, duration_count)
    daily, date = [], since.date()
    while date <= now.date():
        calls, failed = by_day.get(date, (0, 0))
        daily.append({"date": date.isoformat(), "total_calls": int(calls),
                      "failed_calls": int(failed)})
        date += timedelta(days=1)
    rate = percent(successful, total)
    return {
        "total_calls": int(total),
        "successful_calls": int(successful),
        "failed_calls": int(total - successful),
        "success_rate": 0.0 if rate is None else float(rate),
        "average_duration_ms": None if average is None else float(average),
        "total_tokens": int(tokens),
        "total_cost_usd": float(cost),
        "daily": daily,
    }
