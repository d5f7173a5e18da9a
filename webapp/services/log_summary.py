"""A user's usage summary over the last days: counts, success rate, durations, breakdowns.

Read from the rollups (webapp.services.log_rollups) in one statement: the user's sums per
day, endpoint, operation, error type and outcome, and the histogram of durations.
"""

from datetime import timedelta

from webapp.services.log_rollups import (
    USER_GRAINS, WindowQuery, mean, percent, percentiles, utc_now,
)

TOP_ENDPOINTS = 10

_GROUPS = """
SELECT 'sums' AS kind, date_trunc('day', bucket, 'UTC') AS day, endpoint_name,
       llm_operation_type, error_type, success, NULL::integer AS duration_bucket,
       calls, duration_count, duration_sum, total_tokens, cost_usd
FROM llm_log_rollup_user WHERE user_id = :user_id AND {where}
"""
_RAW_GROUPS = """
SELECT 'sums', date_trunc('day', "timestamp", 'UTC'), endpoint_name, llm_operation_type,
       error_type, success, NULL::integer, 1, (duration_ms IS NOT NULL)::integer,
       coalesce(duration_ms, 0), coalesce(total_tokens, 0), coalesce(cost_usd, 0)
FROM llm_call_logs WHERE user_id = :user_id AND {where}
"""
_DURATIONS = """
SELECT 'durations', NULL::timestamptz, NULL, NULL, NULL, NULL::boolean, duration_bucket,
       calls, 0, 0, 0, 0
FROM llm_log_rollup_user_durations WHERE user_id = :user_id AND {where}
"""
_RAW_DURATIONS = """
SELECT 'durations', NULL::timestamptz, NULL, NULL, NULL, NULL::boolean,
       llm_duration_bucket(duration_ms), 1, 0, 0, 0, 0
FROM llm_call_logs WHERE user_id = :user_id AND duration_ms IS NOT NULL AND {where}
"""


def user_summary(user_id, days, now=None):
    """The summary of the user's calls in the last `days` × 24 hours, keys in the seed's order."""
    now = now or utc_now()
    since = now - timedelta(days=days)
    window = WindowQuery(since, params={"user_id": user_id}, grains=USER_GRAINS)
    sums = window.branches(_GROUPS, _RAW_GROUPS)
    durations = window.branches(_DURATIONS, _RAW_DURATIONS)
    rows = window.execute(f"""
        SELECT kind, day, endpoint_name, llm_operation_type, error_type, success, duration_bucket,
               sum(sign * calls)::bigint AS calls,
               sum(sign * duration_count)::bigint AS duration_count,
               sum(sign * duration_sum) AS duration_sum,
               sum(sign * total_tokens)::bigint AS total_tokens, sum(sign * cost_usd) AS cost_usd
        FROM ({sums} UNION ALL {durations}) AS parts(sign, kind, day, endpoint_name,
             llm_operation_type, error_type, success, duration_bucket, calls, duration_count,
             duration_sum, total_tokens, cost_usd)
        GROUP BY kind, day, endpoint_name, llm_operation_type, error_type, success, duration_bucket
        HAVING sum(sign * calls) <> 0
        ORDER BY kind, duration_bucket
    """).all()
    return _summary([r for r in rows if r.kind == "sums"],
                    [(r.duration_bucket, r.calls) for r in rows if r.kind == "durations"],
                    since, now)


def _summary(groups, histogram, since, now):
    total = successful = duration_count = duration_sum = tokens = 0
    cost = 0
    endpoints, operations, errors, by_day = {}, {}, {}, {}
    for group in groups:
        total += group.calls
        if group.success:
            successful += group.calls
        duration_count += group.duration_count
        duration_sum += group.duration_sum
        tokens += group.total_tokens
        cost += group.cost_usd
        _add(endpoints, group.endpoint_name, group.calls)
        _add(operations, group.llm_operation_type, group.calls)
        if not group.success:
            _add(errors, group.error_type, group.calls)
        day = group.day.date()
        calls, failed = by_day.get(day, (0, 0))
        by_day[day] = (calls + group.calls, failed + (0 if group.success else group.calls))
    p50, p95 = percentiles(histogram, (0.5, 0.95))
    return {
        "total_calls": total,
        "successful_calls": successful,
        "failed_calls": total - successful,
        "success_rate": _number(percent(successful, total)) or 0.0,
        "average_duration_ms": _number(mean(duration_sum, duration_count)),
        "most_used_endpoints": _most_first(endpoints, limit=TOP_ENDPOINTS),
        "operation_types": _most_first(operations),
        "error_types": _most_first(errors),
        "date_range": f"{since.date().isoformat()} to {now.date().isoformat()}",
        "p50_duration_ms": p50,
        "p95_duration_ms": p95,
        "total_tokens": int(tokens),
        "total_cost_usd": float(cost),
        "daily": _daily(by_day, since.date(), now.date()),
    }


def _add(counts, key, calls):
    # NULL keys (no operation type, no error type) are not a kind of call to report.
    if key is not None:
        counts[key] = counts.get(key, 0) + calls


def _most_first(counts, limit=None):
    """Name → count, most first, ties by name; a dict keeps that order in the JSON."""
    counts = {key: count for key, count in counts.items() if count}
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
