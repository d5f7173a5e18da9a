"""The LLM operations a worker runs for a job, each attempt inside its logging context.

The database session is closed while the LLM answers, so a slow call holds no
connection. The result, the job's end and the attempt's success row are committed in one
transaction (outbox style), so neither is stored without the other; an answer that arrives
while the database is down is kept and stored once it is back, within the job's lease.
"""

import logging
import time
from datetime import datetime, timezone
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy.exc import InterfaceError, OperationalError

from webapp.extensions import db
from webapp.log_context import job_context
from webapp.llm import client, prompts
from webapp.models import TrainingPlan, User, Workout, WorkoutRevision
from webapp.services import jobs, lost_attempts
from webapp.services.log_writer import CONTENT_ERRORS, INSERT, prepare
from webapp.services.llm_logging_service import (
    current_call,
    log_training_principles_creation,
    log_workout_creation,
    log_workout_revision,
)

log = logging.getLogger(__name__)

PLAN_FIELDS = ("name", "goal", "experience_level", "sessions_per_week", "weeks")
WORKOUT_CONTENT = ("title", "description", "duration_minutes", "difficulty", "exercises")


@dataclass
class JobRun:
    """What every attempt of one job run shares: the job, its owner and request, timings."""

    job_id: object
    user_id: object
    payload: dict
    request_meta: dict
    first_enqueued_at: datetime
    run_number: int
    lease_expires_at: datetime

    def log_kwargs(self):
        """Keyword arguments for a logging context of this job's attempts."""
        return {"request_meta": self.request_meta, "job_id": self.job_id}

    def identify(self, call, number, started):
        """Give the attempt's row its identity: its number across the job's runs, its start,
        its call_id (the same one a WorkerLost row would take) and its queue wait."""
        waited = (started - self.first_enqueued_at).total_seconds() if self.first_enqueued_at else 0
        call.set_fields(attempt=number, queue_wait_ms=max(0, int(waited * 1000)))
        call.call_id = lost_attempts.call_id(self.job_id, number)
        call.timestamp = started


def run_job(job_id):
    """Claim the job and run its operation; a finished or leased job is left alone."""
    job = jobs.claim(job_id)
    if job is None:
        log.info("Job %s is finished or running elsewhere; not running it again", job_id)
        return
    run = JobRun(
        job_id=job.id,
        user_id=job.user_id,
        payload=dict(job.payload),
        request_meta=job.request_meta or {},
        first_enqueued_at=job.first_enqueued_at or job.enqueued_at,
        run_number=job.attempts,
        lease_expires_at=job.lease_expires_at,
    )
    with job_context(run.job_id, run.request_meta.get("request_id")):
        _run(job.operation_type, run)


def _run(operation_type, run):
    try:
        OPERATIONS[operation_type](run)
    except (OperationalError, InterfaceError):
        # The database is unreachable: the job stays running, and once its lease expires
        # the sweeper sends it again.
        db.session.rollback()
        raise
    except Exception as exc:
        jobs.fail(run.job_id, exc, run.run_number)


def _with_retries(attempt_once):
    config = current_app.config
    return client.with_retries(
        attempt_once,
        max_retries=config["LLM_MAX_RETRIES"],
        base_s=config["LLM_BACKOFF_BASE_S"],
        max_s=config["LLM_BACKOFF_MAX_S"],
    )


@dataclass
class Stored:
    """What storing a valid answer made: the job's result and the log row's summary and ids."""

    result: dict
    summary: str
    refs: dict = field(default_factory=dict)


def _attempt_until_done(run, log_call, request_data, kind, ask, store, refs=None):
    """Call the LLM until an answer is stored or retries run out; each attempt is one log row.

    `ask()` builds the messages inside the logging context, so a failure to load what it
    needs is logged; `store(draft)` adds the rows for a valid answer to the session.
    """

    def attempt(_number_in_this_run):
        # Numbered before its logging context opens: with the database down no attempt
        # starts, and no row without a number is written.
        number, started = jobs.start_attempt(run.job_id)
        with log_call(run.user_id, request_data, **(refs or {}), **run.log_kwargs()) as call:
            run.identify(call, number, started)
            # Named before ask(): an attempt that fails loading what it needs is still this
            # prompt's (SPEC section 15).
            call.set_fields(**prompts.BY_KIND[kind].log_fields())
            messages = ask()
            db.session.close()  # no connection is held while the LLM answers
            draft = client.complete(kind, messages, call)
            call.stop_clock()
            _store_answer(run, call, draft, store)

    _with_retries(attempt)


# While the database is down, an answer waits in the worker and is stored once it is back:
# tries this far apart at most, until the job's lease is this close to its end.
_STORE_RETRY_MAX_S = 2.0
_STORE_LEASE_RESERVE_S = 5.0


def _store_answer(run, call, draft, store):
    """Store the answer, end the job and write the attempt's success row in one transaction.

    The database being unreachable is waited out (the answer is paid for; asking again would
    pay twice) until the job's lease nears its end; then the error leaves as it came.
    """
    delay, fitted_harder = 0.2, False
    while True:
        try:
            if not jobs.lock_if_running(run.job_id, run.run_number):
                _discard(call)
                return
            stored = store(draft)
            jobs.succeed(run.job_id, stored.result)
            row = call.success_row(response_summary=stored.summary, **stored.refs)
            db.session.execute(INSERT, [prepare(row, harder=fitted_harder)])
            db.session.commit()
            call.mark_logged(row)
            return
        except (OperationalError, InterfaceError):
            _rollback()
            left = (run.lease_expires_at - datetime.now(timezone.utc)).total_seconds()
            if left - delay < _STORE_LEASE_RESERVE_S:
                raise
            log.warning("Database unreachable while storing job %s's answer; retrying in %.1f s",
                        run.job_id, delay)
            time.sleep(delay)
            delay = min(_STORE_RETRY_MAX_S, delay * 2)
        except CONTENT_ERRORS:
            # The log row, not the result, was refused (the result is validated): once more
            # without the row's optional fields.
            _rollback()
            if fitted_harder:
                raise
            fitted_harder = True


def _rollback():
    try:
        db.session.rollback()
    except Exception:
        db.session.remove()


def create_workout(run):
    """Compose a workout from the prompt and store it."""
    prompt = run.payload["prompt"]

    def store(draft):
        workout = Workout(user_id=run.user_id)
        workout.apply(draft)
        db.session.add(workout)
        db.session.flush()
        return Stored(
            {"workout_id": workout.id, "workout": _jsonable(workout.to_dict())},
            f'Created workout {workout.id} "{workout.title}" with {len(workout.exercises)} exercises',
            {"workout_id": workout.id},
        )

    _attempt_until_done(run, log_workout_creation, {"prompt": prompt}, "workout",
                        lambda: prompts.workout_messages(prompt), store)


def create_training_principles(run):
    """Write the principles of a new training plan and store the plan."""
    plan = {key: run.payload[key] for key in PLAN_FIELDS}
    health_notes = run.payload.get("health_notes")
    asked = {**plan, "health_notes": health_notes} if health_notes else plan

    def store(draft):
        training_plan = TrainingPlan(user_id=run.user_id, **plan, **draft)
        db.session.add(training_plan)
        db.session.flush()
        return Stored(
            {"training_plan_id": training_plan.id, "training_plan": _jsonable(training_plan.to_dict())},
            f'Created training plan {training_plan.id} "{training_plan.name}" '
            f"with {len(training_plan.principles)} principles",
            {"training_plan_id": training_plan.id},
        )

    _attempt_until_done(run, log_training_principles_creation, plan, "training_principles",
                        lambda: prompts.training_principles_messages(asked), store)


def revise_workout(run):
    """Propose a revision of the workout from the user's feedback, pending acceptance."""
    workout_id = run.payload["workout_id"]
    feedback = run.payload["feedback"]
    seen = {}

    def ask():
        workout = Workout.get_owned_or_404(workout_id, db.session.get(User, run.user_id))
        seen["base_version"] = workout.version
        current = {key: getattr(workout, key) for key in WORKOUT_CONTENT}
        return prompts.workout_revision_messages(current, feedback)

    def store(draft):
        revision = WorkoutRevision(
            workout_id=workout_id, user_id=run.user_id, job_id=run.job_id,
            base_version=seen["base_version"], feedback=feedback, revised=draft, status="pending",
            **written_by(current_call()),
        )
        db.session.add(revision)
        db.session.flush()
        WorkoutRevision.supersede_pending(workout_id, except_id=revision.id)
        return Stored(
            {"workout_id": workout_id, "revision_id": revision.id,
             "revised_workout": {"id": workout_id, **draft}},
            f"Proposed revision {revision.id} of workout {workout_id}: {revision.summary()}",
        )

    _attempt_until_done(run, log_workout_revision, {"workout_id": workout_id, "feedback": feedback},
                        "workout_revision", ask, store, refs={"workout_id": workout_id})


def written_by(call):
    """The model and prompt a revision was written by: those of the call that wrote it."""
    return {key: call.fields.get(key) for key in ("model", "prompt_name", "prompt_version")}


def _discard(call):
    """Another run finished the job meanwhile: store nothing, say so in the log."""
    db.session.rollback()
    call.log_success(response_summary="Answer discarded: the job had already finished")


def _jsonable(data):
    """Datetimes as ISO 8601 text, for a JSON column."""
    return {key: value.isoformat() if hasattr(value, "isoformat") else value
            for key, value in data.items()}


OPERATIONS = {
    "workout_creation": create_workout,
    "training_principles_creation": create_training_principles,
    "workout_revision": revise_workout,
}
