"""Admin analytics: the seed's three example queries, and the further ones of SPEC section 8.

Each answers what the seed's SQL answers on the same rows, with an optional time window
(`days`, as the seed's `NOW() - INTERVAL 'n days'`) and a last ORDER BY key so that ties come
back in one order; the sums come from the rollups (webapp.services.log_rollups), and the
averages and rates are the seed's own expressions over those sums.
"""

from datetime import timedelta

from sqlalchemy import select, text

from webapp.extensions import db
from webapp.models import LlmCallLog
from webapp.services.log_rollups import (
    WindowQuery, duration_bucket_sql, filter_sql, percent, percentiles, utc_now,
)

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


# The further analytics (SPEC section 8): each over the last `days` days, optionally of one
# user. The costliest and slowest calls walk the cost (duration) index of the window's
# partitions from the top and stop at `limit`; revisions group the window's revisions (a
# proposal each, far fewer than calls); by-model reads the model rollups.
def _window(days, user_id, now, column='"timestamp"', user_column="user_id"):
    params = {"since": (now or utc_now()) - timedelta(days=days)}
    where = f"{column} >= :since"
    if user_id is not None:
        params["user_id"] = str(user_id)
        where += f" AND {user_column} = :user_id"
    return where, params


def _top_calls(order_column, days, limit, user_id, now):
    conditions = [LlmCallLog.timestamp >= (now or utc_now()) - timedelta(days=days)]
    if user_id is not None:
        conditions.append(LlmCallLog.user_id == str(user_id))
    return db.session.scalars(
        select(LlmCallLog)
        .where(*conditions)
        .order_by(order_column.desc().nulls_last(), LlmCallLog.timestamp.desc(),
                  LlmCallLog.id.desc())
        .limit(limit)
    ).all()


def costliest(days=7, limit=10, user_id=None, now=None):
    """The window's calls by cost, highest first, calls without a cost last: LlmCallLog rows."""
    return _top_calls(LlmCallLog.cost_usd, days, limit, user_id, now)


def slowest(days=7, limit=10, user_id=None, now=None):
    """The window's calls by duration, longest first, calls without one last: LlmCallLog rows."""
    return _top_calls(LlmCallLog.duration_ms, days, limit, user_id, now)


# By model and prompt version: for everyone, the sums and the durations' histogram from the
# model rollups (migration 0011) with the window's ragged edges from raw rows, in one
# statement; narrowed to one user, that user's rows (through their index) are few enough.
_MODEL_KEY = "model, prompt_name, prompt_version"
_MODEL_SUMS = f"""
SELECT 'sums', {_MODEL_KEY}, NULL::integer, calls, failed_calls, duration_count, duration_sum,
       total_tokens, cost_usd
FROM llm_log_rollup_model WHERE {{where}}
"""
_RAW_MODEL_SUMS = f"""
SELECT 'sums', {_MODEL_KEY}, NULL::integer, 1, (NOT success)::integer,
       (duration_ms IS NOT NULL)::integer, coalesce(duration_ms, 0), coalesce(total_tokens, 0),
       coalesce(cost_usd, 0)
FROM llm_call_logs WHERE {{where}} {{user}}
"""
_MODEL_DURATIONS = f"""
SELECT 'durations', {_MODEL_KEY}, duration_bucket, calls, 0, 0, 0, 0, 0
FROM llm_log_rollup_model_durations WHERE {{where}}
"""
_RAW_MODEL_DURATIONS = f"""
SELECT 'durations', {_MODEL_KEY}, {duration_bucket_sql("duration_ms")}, 1, 0, 0, 0, 0, 0
FROM llm_call_logs WHERE duration_ms IS NOT NULL AND {{where}} {{user}}
"""
_BY_MODEL = f"""
SELECT kind, {_MODEL_KEY}, duration_bucket,
       sum(sign * calls)::bigint AS calls, sum(sign * failed_calls)::bigint AS failed_calls,
       sum(sign * duration_count)::bigint AS duration_count,
       sum(sign * duration_sum) AS duration_sum, sum(sign * total_tokens)::bigint AS total_tokens,
       sum(sign * cost_usd) AS cost_usd,
       -- as avg(duration_ms) computes it: the numeric sum divided by the count
       sum(sign * duration_sum)::numeric / nullif(sum(sign * duration_count), 0) AS avg_duration_ms
FROM ({{parts}}) AS parts(sign, kind, {_MODEL_KEY}, duration_bucket, calls, failed_calls,
     duration_count, duration_sum, total_tokens, cost_usd)
GROUP BY kind, {_MODEL_KEY}, duration_bucket
HAVING sum(sign * calls) <> 0
ORDER BY kind, {_MODEL_KEY}, duration_bucket
"""


def by_model(days=7, user_id=None, now=None):
    """Calls, failures, durations, tokens and cost per (model, prompt_name, prompt_version),
    most calls first: a list of dicts. p95 comes from the durations' histogram (within 1 %)."""
    since = (now or utc_now()) - timedelta(days=days)
    # Narrowed to one user, all of it raw: the rollups do not know users.
    window = WindowQuery(since, grains=("hour", "day") if user_id is None else ())
    user = filter_sql({"user_id": None if user_id is None else str(user_id)}, window.params)
    parts = (window.branches(_MODEL_SUMS, _RAW_MODEL_SUMS.replace("{user}", user)) + " UNION ALL "
             + window.branches(_MODEL_DURATIONS, _RAW_MODEL_DURATIONS.replace("{user}", user)))
    groups, histograms = [], {}
    for row in window.execute(_BY_MODEL.format(parts=parts)):
        key = (row.model, row.prompt_name, row.prompt_version)
        if row.kind == "sums":
            groups.append((key, row))
        else:
            histograms.setdefault(key, []).append((row.duration_bucket, row.calls))
    items = [_model_item(key, row, histograms.get(key, [])) for key, row in groups]
    return sorted(items, key=lambda item: -item["calls"])


def _model_item(key, row, histogram):
    model, prompt_name, prompt_version = key
    (p95,) = percentiles(histogram, (0.95,))
    return {
        "model": model,
        "prompt_name": prompt_name,
        "prompt_version": prompt_version,
        "calls": int(row.calls),
        "failed_calls": int(row.failed_calls),
        "error_rate": float(percent(row.failed_calls, row.calls)),
        "avg_duration_ms": _float(row.avg_duration_ms),
        "p95_duration_ms": p95,
        "total_tokens": int(row.total_tokens),
        "total_cost_usd": float(row.cost_usd),
    }


_REVISIONS = """
SELECT model, prompt_version,
       count(*) AS revisions,
       count(*) FILTER (WHERE status = 'accepted') AS accepted,
       count(*) FILTER (WHERE status = 'superseded') AS superseded,
       count(*) FILTER (WHERE status = 'pending') AS pending,
       round(count(*) FILTER (WHERE status = 'accepted') * 100.0 / count(*), 2) AS acceptance_rate,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM decided_at - created_at))
           FILTER (WHERE status = 'accepted') AS median_seconds_to_accept
FROM workout_revisions
WHERE {where}
GROUP BY model, prompt_version
ORDER BY revisions DESC, model, prompt_version
"""


def revisions(days=7, user_id=None, now=None):
    """What users did with the revisions proposed in the window, per model and prompt version
    that wrote them: a list of dicts."""
    # workout_revisions.user_id is a uuid; compared as text, a user_id that is no UUID
    # matches nothing instead of failing.
    where, params = _window(days, user_id, now, column="created_at", user_column="user_id::text")
    rows = db.session.execute(text(_REVISIONS.format(where=where)), params)
    return [
        {
            "model": row.model,
            "prompt_version": row.prompt_version,
            "revisions": int(row.revisions),
            "accepted": int(row.accepted),
            "superseded": int(row.superseded),
            "pending": int(row.pending),
            "acceptance_rate": float(row.acceptance_rate),
            "median_seconds_to_accept": _float(row.median_seconds_to_accept),
        }
        for row in rows
    ]


def _float(value):
    return None if value is None else float(value)
