"""The seed's three example queries as admin analytics, over every user's calls.

The SQL is the seed's, written out, with two changes that keep its results: an optional time
window (`days`, as the seed's `NOW() - INTERVAL 'n days'`) and a last ORDER BY key, so that ties
come back in the same order every time.
"""

from sqlalchemy import text

from webapp.extensions import db

_WINDOW = "timestamp >= NOW() - make_interval(days => :days)"

_TOP_USERS = f"""
SELECT user_id, COUNT(*) AS call_count
FROM llm_call_logs
WHERE {_WINDOW}
GROUP BY user_id
ORDER BY call_count DESC, user_id
LIMIT :limit
"""

_ENDPOINT_LATENCY = """
SELECT endpoint_name, AVG(duration_ms) AS avg_duration_ms
FROM llm_call_logs
WHERE duration_ms IS NOT NULL {window}
GROUP BY endpoint_name
ORDER BY avg_duration_ms DESC, endpoint_name
"""

_ERROR_RATES = """
SELECT
    llm_operation_type,
    COUNT(*) AS total_calls,
    SUM(CASE WHEN success = false THEN 1 ELSE 0 END) AS failed_calls,
    ROUND(SUM(CASE WHEN success = false THEN 1 ELSE 0 END) * 100.0 / COUNT(*), 2) AS error_rate
FROM llm_call_logs
WHERE llm_operation_type IS NOT NULL {window}
GROUP BY llm_operation_type
ORDER BY error_rate DESC, llm_operation_type
"""


def top_users(days=7, limit=10):
    """The users with the most calls in the last `days` days, most first."""
    rows = db.session.execute(text(_TOP_USERS), {"days": days, "limit": limit})
    return [{"user_id": row.user_id, "call_count": row.call_count} for row in rows]


def endpoint_latency(days=None):
    """The average duration of each endpoint's calls, slowest first; every call unless `days`."""
    rows = db.session.execute(*_windowed(_ENDPOINT_LATENCY, days))
    return [
        {"endpoint_name": row.endpoint_name, "avg_duration_ms": float(row.avg_duration_ms)}
        for row in rows
    ]


def error_rates(days=None):
    """Calls, failed calls and the failure percentage per operation type, highest rate first."""
    rows = db.session.execute(*_windowed(_ERROR_RATES, days))
    return [
        {
            "llm_operation_type": row.llm_operation_type,
            "total_calls": row.total_calls,
            "failed_calls": row.failed_calls,
            "error_rate": float(row.error_rate),
        }
        for row in rows
    ]


def _windowed(sql, days):
    """The statement and its parameters, with the time window only when `days` is given."""
    if days is None:
        return text(sql.format(window="")), {}
    return text(sql.format(window=f"AND {_WINDOW}")), {"days": days}
