"""The LLM operations: three are queued as jobs (202), accepting a revision runs here."""

from apiflask import APIBlueprint
from flask import url_for

from webapp.api import schemas
from webapp.api.validation import json_body
from webapp.auth import current_user, login_required
from webapp.models import Workout
from webapp.errors import ApiError
from webapp.services import jobs, limits, llm_usage, revisions
from webapp.services.llm_logging_service import request_meta_from_request

bp = APIBlueprint("operations", __name__, tag="LLM operations")

IDEMPOTENCY_CONFLICT = {
    409: "The Idempotency-Key was used before for a different request.",
    429: "A rate limit or daily budget refuses the request (see Retry-After and "
         "details.limit).",
}


def _within_limits():
    """429 when a limit or budget refuses the caller a new job."""
    try:
        limits.check_submit(current_user())
    except limits.LimitExceeded as exc:
        raise ApiError(429, str(exc), details={"limit": exc.limit},
                       headers={"Retry-After": str(exc.retry_after_s)}) from exc


def _submit(operation_type, payload, headers):
    job, _ = jobs.submit(
        current_user(),
        operation_type,
        payload,
        request_meta=request_meta_from_request(),
        idempotency_key=headers.get("idempotency_key"),
        admit=_within_limits,
    )
    status_url = url_for("jobs.get_job", job_id=job.id)
    # A repeat under the same Idempotency-Key gets the first answer again, word for word;
    # the job's progress is what status_url is for.
    body = {"job_id": job.id, "status": "queued", "status_url": status_url}
    return body, 202, {"Location": status_url}


@bp.post("/llm/create-workout")
@login_required
@bp.input(schemas.IdempotencyHeaders, location="headers", arg_name="headers")
@json_body(bp, schemas.CreateWorkoutIn)
@bp.output(schemas.JobAcceptedOut, status_code=202, headers=schemas.JobAcceptedHeaders)
@bp.doc(responses=IDEMPOTENCY_CONFLICT)
def create_workout(headers, body):
    """Queue a workout composed from a prompt."""
    return _submit("workout_creation", {"prompt": body["prompt"]}, headers)


@bp.post("/llm/create-training-principles")
@login_required
@bp.input(schemas.IdempotencyHeaders, location="headers", arg_name="headers")
@json_body(bp, schemas.TrainingPrinciplesIn)
@bp.output(schemas.JobAcceptedOut, status_code=202, headers=schemas.JobAcceptedHeaders)
@bp.doc(responses=IDEMPOTENCY_CONFLICT)
def create_training_principles(headers, body):
    """Queue a training plan's principles (health notes reach the LLM, never a log)."""
    payload = {key: value for key, value in body.items() if value is not None}
    return _submit("training_principles_creation", payload, headers)


@bp.post("/workouts/<int:workout_id>/revise")
@login_required
@bp.input(schemas.IdempotencyHeaders, location="headers", arg_name="headers")
@json_body(bp, schemas.ReviseIn)
@bp.output(schemas.JobAcceptedOut, status_code=202, headers=schemas.JobAcceptedHeaders)
@bp.doc(responses=IDEMPOTENCY_CONFLICT)
def revise_workout(workout_id, headers, body):
    """Queue a revision of one of your workouts from feedback."""
    Workout.get_owned_or_404(workout_id, current_user())
    payload = {"workout_id": workout_id, "feedback": body["feedback"]}
    return _submit("workout_revision", payload, headers)


@bp.post("/workouts/<int:workout_id>/revise/accept")
@login_required
@json_body(bp, schemas.AcceptIn, optional=True)
@bp.output(schemas.WorkoutOut)
@bp.doc(responses={409: "The revision is no longer pending or was made against an older "
                        "version of the workout."})
def accept_revision(workout_id, body):
    """Apply a pending revision (the given one, or the latest) to the workout."""
    user = current_user()
    workout = revisions.accept(user, workout_id, body.get("revision_id"))
    return {**workout.to_dict(), "llm_usage": llm_usage.of_workout(user.id, workout.id)}
