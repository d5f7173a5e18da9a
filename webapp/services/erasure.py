"""Erasing one user (SPEC section 13): logs, jobs, workouts, plans, revisions, tokens, account.

Log rows go through DELETE, a batch at a time, so the rollups follow through the log table's
triggers; the user's rollup rows, all zero by then, are deleted after them so the user's id is
in no answer any more. The id is kept in `erased_users` before the rows go, and the log drops
a row for it as it is inserted, so a call still in flight or a spooled row cannot bring it back.
"""

from sqlalchemy import delete, text
from sqlalchemy.dialects.postgresql import insert

from webapp.extensions import db
from webapp.models import (ApiToken, ErasedUser, Job, TrainingPlan, User, Workout,
                           WorkoutRevision)

BATCH_ROWS = 5000
# pg_advisory_xact_lock key: "llm_call_logs erasure", the one of migration 0012's trigger.
ERASURE_LOCK_KEY = 0x11C_0E5A
# The rollups keyed by user (webapp.models.log_rollup).
_USER_ROLLUPS = ("llm_log_rollup_user", "llm_log_rollup_user_calls",
                 "llm_log_rollup_user_durations")
_DELETE_LOG_BATCH = text("""
    DELETE FROM llm_call_logs WHERE (id, "timestamp") IN (
        SELECT id, "timestamp" FROM llm_call_logs WHERE user_id = :user_id LIMIT :batch)
""")


def erase(user):
    """Remove everything of the user; return the counts removed, by kind.

    Tokens go first, so nothing new starts for the user meanwhile, with the id's entry in
    `erased_users`, so no log row for it lands from then on; the account goes last, so an
    erasure cut short can be run again by email and finishes the job.
    """
    user_id = user.id
    counts = {"user_id": str(user_id)}
    # The log's insert trigger holds this lock shared (migration 0012): every row being
    # inserted for the user is committed first, and none is inserted after without the id.
    db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ERASURE_LOCK_KEY})
    counts["tokens"] = db.session.execute(
        delete(ApiToken).where(ApiToken.user_id == user_id)).rowcount
    db.session.execute(insert(ErasedUser).values(user_id=str(user_id)).on_conflict_do_nothing())
    db.session.commit()
    counts["log_rows"] = _erase_logs(str(user_id))
    for key, model in (("revisions", WorkoutRevision), ("jobs", Job), ("workouts", Workout),
                       ("training_plans", TrainingPlan)):
        counts[key] = db.session.execute(delete(model).where(model.user_id == user_id)).rowcount
    db.session.delete(user)
    db.session.commit()
    return {key: counts[key] for key in ("user_id", "log_rows", "jobs", "workouts",
                                         "training_plans", "revisions", "tokens")}


def _erase_logs(user_id):
    removed = 0
    while True:
        with db.engine.begin() as conn:
            batch = conn.execute(_DELETE_LOG_BATCH, {"user_id": user_id, "batch": BATCH_ROWS})
        removed += batch.rowcount
        if batch.rowcount < BATCH_ROWS:
            break
    with db.engine.begin() as conn:
        for table in _USER_ROLLUPS:
            conn.execute(text(f"DELETE FROM {table} WHERE user_id = :user_id AND calls = 0"),
                         {"user_id": user_id})
    return removed


def find_user(user_id):
    """The user with this id, or None."""
    return db.session.get(User, user_id)
