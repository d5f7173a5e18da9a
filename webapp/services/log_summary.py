"""A user's usage summary over the last days: counts, success rate, durations, breakdowns.

Read from the rollups (webapp.services.log_rollups) in one statement: the user's sums per
day, endpoint, operation, error type and outcome, and the histogram of durations.
"""

from datetime import timedelta

from webapp.services.log_rollups import (
    USER_GRAINS, WindowQuery, duration_bucket_sql, mean, percent, percentiles, utc_now,
)

TOP_ENDPOINTS = 10

_GROUPS = """
SELECT 'sums' AS kind, date_trunc('day', bucket, 'UTC') AS day, endpoint_name,
       llm_operation_type, error_type, success, NULL::integer AS duration_bucket,
       calls, duration_count, duration_sum, total_tokens, cost_usd
FROM llm_log_rollup_user WHERE user_id = :user_id AND {where}
"""
# A raw part's rows are read once for both: their sums and their durations' histogram.
_RAW_GROUPS = """
SELECT CASE WHEN grouping(duration_bucket) = 0 THEN 'durations' ELSE 'sums' END, day,
       endpoint_name, llm_operation_type, error_type, success, duration_bucket,
       count(*), count(duration_ms), coalesce(sum(duration_ms), 0),
       coalesce(sum(total_tokens), 0), coalesce(sum(cost_usd), 0)
FROM (SELECT date_trunc('day', "timestamp", 'UTC') AS day, endpoint_name, llm_operation_type,
             error_type, success, duration_ms, total_tokens, cost_usd,
             """ + duration_bucket_sql("duration_ms") + """ AS duration_bucket
      FROM llm_call_logs WHERE user_id = :user_id AND {where}) AS edge
GROUP BY GROUPING SETS ((day, endpoint_name, llm_operation_type, error_type, success),
                        (duration_bucket))
HAVING grouping(duration_bucket) = 1 OR duration_bucket IS NOT NULL
"""
_DURATIONS = """
SELECT 'durations', NULL::timestamptz, NULL, NULL, NULL, NULL::boolean, duration_bucket,
       calls, 0, 0, 0, 0
FROM llm_log_rollup_user_durations WHERE user_id = :user_id AND {where}
"""


def user_summary(user_id, days, now=None):
    """The summary of the user's calls in the last `days` × 24 hours, keys in the seed's order."""
    now = now or utc_now()
    since = now - timedelta(days=days)
    window = WindowQuery(since, params={"user_id": user_id}, grains=USER_GRAINS)
    edge = window.branches(None, _RAW_GROUPS)
    sums = window.branches(_GROUPS, None)
    durations = window.branches(_DURATIONS, None)
    # The sums per key are added up to the figures in SQL (grouping sets), and the histogram
    # per bucket, so a few hundred small rows come back however many calls the user made.
    rows = window.execute(f"""
        WITH edge(sign, kind, day, endpoint_name, llm_operation_type, error_type, success,
                  duration_bucket, calls, duration_count, duration_sum, total_tokens,
                  cost_usd) AS ({edge}),
        groups AS (
            SELECT day, endpoint_name, llm_operation_type, error_type, success,
                   sum(sign * calls) AS calls, sum(sign * duration_count) AS duration_count,
                   sum(sign * duration_sum) AS duration_sum,
                   sum(sign * total_tokens) AS total_tokens, sum(sign * cost_usd) AS cost_usd
            FROM ({sums} UNION ALL SELECT * FROM edge WHERE kind = 'sums')
                 AS parts(sign, kind, day, endpoint_name, llm_operation_type, error_type,
                          success, duration_bucket, calls, duration_count, duration_sum,
                          total_tokens, cost_usd)
            GROUP BY day, endpoint_name, llm_operation_type, error_type, success
        )
        SELECT CASE WHEN grouping(endpoint_name) = 0 THEN 'endpoint'
                    WHEN grouping(llm_operation_type) = 0 THEN 'operation'
                    WHEN grouping(error_type) = 0 THEN 'error'
                    WHEN grouping(day) = 0 THEN 'day' ELSE 'total' END AS kind,
               -- the key a set groups by; a set's other keys are NULL
               coalesce(endpoint_name, llm_operation_type, error_type) AS name, day,
               NULL::integer AS duration_bucket, sum(calls)::bigint AS calls,
               coalesce(sum(calls) FILTER (WHERE NOT success), 0)::bigint AS failed,
               sum(duration_count)::bigint AS duration_count, sum(duration_sum) AS duration_sum,
               sum(total_tokens)::bigint AS total_tokens, sum(cost_usd) AS cost_usd
        FROM groups
        GROUP BY GROUPING SETS ((), (endpoint_name), (llm_operation_type), (error_type), (day))
        UNION ALL
        SELECT 'durations', NULL, NULL, duration_bucket, sum(sign * calls)::bigint, 0, 0, 0, 0, 0
        FROM ({durations} UNION ALL SELECT * FROM edge WHERE kind = 'durations')
             AS parts(sign, kind, day, endpoint_name, llm_operation_type, error_type, success,
                      duration_bucket, calls, duration_count, duration_sum, total_tokens,
                      cost_usd)
        GROUP BY duration_bucket HAVING sum(sign * calls) <> 0
        ORDER BY kind, duration_bucket
    """).all()
    return _summary(rows, since, now)


def _summary(rows, since, now):
    totals = None  # the grand total's row, there even over no calls (its sums then NULL)
    endpoints, operations, errors, by_day, histogram = {}, {}, {}, {}, []
    for row in rows:
        if row.kind == "total":
            totals = row
        elif row.kind == "endpoint":
            _add(endpoints, row.name, row.calls)
        elif row.kind == "operation":
            _add(operations, row.name, row.calls)
        elif row.kind == "error":
            _add(errors, row.name, row.failed)
        elif row.kind == "day":
            by_day[row.day.date()] = (row.calls, row.failed)
        else:
            histogram.append((row.duration_bucket, row.calls))
    total = totals.calls or 0
    successful = total - totals.failed
    p50, p95 = percentiles(histogram, (0.5, 0.95))
    return {
        "total_calls": total,
        "successful_calls": successful,
        "failed_calls": total - successful,
        "success_rate": _number(percent(successful, total)) or 0.0,
        "average_duration_ms": _number(mean(totals.duration_sum, totals.duration_count)),
        "most_used_endpoints": _most_first(endpoints, limit=TOP_ENDPOINTS),
        "operation_types": _most_first(operations),
        "error_types": _most_first(errors),
        "date_range": f"{since.date().isoformat()} to {now.date().isoformat()}",
        "p50_duration_ms": p50,
        "p95_duration_ms": p95,
        "total_tokens": totals.total_tokens or 0,
        "total_cost_usd": float(totals.cost_usd or 0),
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
