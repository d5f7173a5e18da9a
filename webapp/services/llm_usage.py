"""What the LLM cost a workout or a training plan over its life (SPEC section 5).

Every logged call about it counts: its creation, its revisions (failed ones included) and
their accepts, i.e. the owner's rows that name its `workout_id` (`training_plan_id`). Read
from the log itself through the partial indexes on those columns (migration 0006), so the
answer is exact at once; a workout has a handful of rows.
"""

from sqlalchemy import bindparam, text

from webapp.extensions import db

_COLUMNS = {"workout": "workout_id", "training_plan": "training_plan_id"}
_USAGE = """
SELECT {column} AS about, count(*) AS calls, coalesce(sum(total_tokens), 0) AS total_tokens,
       coalesce(sum(cost_usd), 0) AS total_cost_usd
FROM llm_call_logs
WHERE user_id = :user_id AND {column} IS NOT NULL AND {column} IN :ids
GROUP BY {column}
"""


def _usage(kind, user_id, ids):
    ids = [int(i) for i in ids]
    if not ids:
        return {}
    statement = text(_USAGE.format(column=_COLUMNS[kind])).bindparams(
        bindparam("ids", expanding=True))
    rows = db.session.execute(statement, {"user_id": str(user_id), "ids": ids})
    found = {row.about: _usage_dict(row.calls, row.total_tokens, row.total_cost_usd)
             for row in rows}
    return {i: found.get(i, _usage_dict(0, 0, 0)) for i in ids}


def _usage_dict(calls, tokens, cost):
    return {"calls": int(calls), "total_tokens": int(tokens), "total_cost_usd": float(cost)}


def of_workouts(user_id, workout_ids):
    """`{workout_id: llm_usage}` for the user's workouts with these ids, in one query."""
    return _usage("workout", user_id, workout_ids)


def of_workout(user_id, workout_id):
    """`{"calls", "total_tokens", "total_cost_usd"}` of the user's calls about one workout."""
    return of_workouts(user_id, [workout_id])[workout_id]


def of_training_plan(user_id, plan_id):
    """`{"calls", "total_tokens", "total_cost_usd"}` of the user's calls about one plan."""
    return _usage("training_plan", user_id, [plan_id])[plan_id]
