"""The seed's three example queries as admin analytics, over every user's calls.

Each answers what the seed's SQL answers on the same rows, with an optional time window
(`days`, as the seed's `NOW() - INTERVAL 'n days'`) and a last ORDER BY key so that ties come
back in one order; the sums come from the rollups (webapp.services.log_rollups), and the
averages and rates are the seed's own expressions over those sums.
"""

from datetime import timedelta

from webapp.services.log_rollups import WindowQuery, utc_now

_TOP_USERS = """
SELECT user_id, sum(sign * calls) AS call_count
FROM ({parts}) AS parts(sign, user_id, calls)
GROUP BY user_id
HAVING sum(sign * calls) > 0
ORDER BY call_count DESC, user_id
LIMIT :limit
"""
_USER_CALLS = "SELECT user_id, calls FROM llm_log_rollup_user_calls WHERE {where}"
_RAW_USER_CALLS = 'SELECT user_id, 1 FROM llm_call_logs WHERE {where}'

_ENDPOINT_LATENCY = """
SELECT endpoint_name, sum(sign * duration_sum) / sum(sign * duration_count) AS avg_duration_ms
FROM ({parts}) AS parts(sign, endpoint_name, llm_operation_type, success, calls,
                        duration_count, duration_sum)
GROUP BY endpoint_name
HAVING sum(sign * duration_count) > 0
ORDER BY avg_duration_ms DESC, endpoint_name
"""
_ERROR_RATES = """
SELECT
    llm_operation_type,
    sum(sign * calls) AS total_calls,
    coalesce(sum(sign * calls) FILTER (WHERE NOT success), 0) AS failed_calls,
    ROUND(coalesce(sum(sign * calls) FILTER (WHERE NOT success), 0) * 100.0
          / sum(sign * calls), 2) AS error_rate
FROM ({parts}) AS parts(sign, endpoint_name, llm_operation_type, success, calls,
                        duration_count, duration_sum)
WHERE llm_operation_type IS NOT NULL
GROUP BY llm_operation_type
HAVING sum(sign * calls) > 0
ORDER BY error_rate DESC, llm_operation_type
"""
# Everyone's calls by endpoint, operation and outcome: the global rollup, or raw rows.
_GLOBAL = """
SELECT endpoint_name, llm_operation_type, success, calls, duration_count, duration_sum
FROM llm_log_rollup_global WHERE {where}
"""
_RAW_GLOBAL = """
SELECT endpoint_name, llm_operation_type, success, 1, (duration_ms IS NOT NULL)::integer,
       coalesce(duration_ms, 0)
FROM llm_call_logs WHERE {where}
"""


def _since(days, now):
    return None if days is None else (now or utc_now()) - timedelta(days=days)


def top_users(days=7, limit=10, now=None):
    """The users with the most calls in the last `days` days, most first."""
    window = WindowQuery(_since(days, now), params={"limit": limit})
    rows = window.execute(_TOP_USERS.format(parts=window.branches(_USER_CALLS, _RAW_USER_CALLS)))
    return [{"user_id": row.user_id, "call_count": int(row.call_count)} for row in rows]


def endpoint_latency(days=None, now=None):
    """The average duration of each endpoint's calls, slowest first; every call unless `days`."""
    window = WindowQuery(_since(days, now))
    rows = window.execute(_ENDPOINT_LATENCY.format(parts=window.branches(_GLOBAL, _RAW_GLOBAL)))
    return [
        {"endpoint_name": row.endpoint_name, "avg_duration_ms": float(row.avg_duration_ms)}
        for row in rows
    ]


def error_rates(days=None, now=None):
    """Calls, failed calls and the failure percentage per operation type, highest rate first."""
    window = WindowQuery(_since(days, now))
    rows = window.execute(_ERROR_RATES.format(parts=window.branches(_GLOBAL, _RAW_GLOBAL)))
    return [
        {
            "llm_operation_type": row.llm_operation_type,
            "total_calls": int(row.total_calls),
            "failed_calls": int(row.failed_calls),
            "error_rate": float(row.error_rate),
        }
        for row in rows
    ]
