"""Rows for the attempts a worker took with it when it died (SPEC section 5).

Each attempt of a job has a number from the job's counter (`llm_jobs.llm_attempts`) and a
call_id made from the job and that number. When a job is taken up again after its worker was
lost, or failed for it, every attempt number without a row gets one failed `WorkerLost` row
(status 500). The last attempt's row carries that attempt's start, so it and a row of the
same attempt still waiting in a spool share `(call_id, timestamp)` and only one lands.
"""

import uuid

from sqlalchemy import select

from webapp.extensions import db
from webapp.llm import prompts
from webapp.models import LlmCallLog
from webapp.services import llm_logging_service as logging_service

# The logging context of each operation a worker runs.
LOGGERS = {
    "workout_creation": logging_service.log_workout_creation,
    "training_principles_creation": logging_service.log_training_principles_creation,
    "workout_revision": logging_service.log_workout_revision,
}
_PLAN_FIELDS = ("name", "goal", "experience_level", "sessions_per_week", "weeks")
_CALL_IDS = uuid.UUID("6d1c3b1e-8f0a-4a53-9a57-6a1f4c2b9e10")


class WorkerLost(Exception):
    """The worker running this attempt was lost (killed, host gone) before it was logged."""


def call_id(job_id, attempt):
    """The call_id of a job's attempt: the same wherever and however often it is made."""
    return uuid.uuid5(_CALL_IDS, f"{job_id}:{attempt}")


def request_data(operation_type, payload):
    """The logged request_data of a job's operation (never health_notes)."""
    if operation_type == "workout_creation":
        return {"prompt": payload.get("prompt")}
    if operation_type == "training_principles_creation":
        return {key: payload.get(key) for key in _PLAN_FIELDS}
    return {"workout_id": payload.get("workout_id"), "feedback": payload.get("feedback")}


def refs(operation_type, payload):
    """Columns a failed row of this operation carries (revise rows name their workout)."""
    return {"workout_id": payload["workout_id"]} if operation_type == "workout_revision" else {}


def log_missing(job):
    """Write a WorkerLost row for each of the job's attempts that has none; return how many.

    `job` has id, user_id, operation_type, payload, request_meta, llm_attempts,
    attempt_started_at and first_enqueued_at (an ORM Job or a claimed row).
    """
    if not job.llm_attempts:
        return 0
    logged = set(db.session.scalars(
        select(LlmCallLog.attempt).where(LlmCallLog.job_id == job.id,
                                         LlmCallLog.attempt.is_not(None))
    ))
    missing = [n for n in range(1, job.llm_attempts + 1) if n not in logged]
    for number in missing:
        _log_lost(job, number)
    return len(missing)


def _log_lost(job, number):
    started = job.attempt_started_at
    waited = None
    if started is not None and job.first_enqueued_at is not None:
        waited = max(0, int((started - job.first_enqueued_at).total_seconds() * 1000))
    with LOGGERS[job.operation_type](
        job.user_id, request_data(job.operation_type, job.payload or {}),
        request_meta=job.request_meta or {}, job_id=job.id, attempt=number,
        queue_wait_ms=waited, **refs(job.operation_type, job.payload or {}),
        **prompts.BY_OPERATION[job.operation_type].log_fields(),
    ) as call:
        call.call_id = call_id(job.id, number)
        if number == job.llm_attempts and started is not None:
            call.timestamp = started
        call.log_error(WorkerLost("The worker running this call was lost before it ended."),
                       http_status_code=500)
