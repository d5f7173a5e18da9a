"""Marshmallow schemas of the operations' bodies and answers (they also make the OpenAPI doc)."""

from apiflask import Schema, fields
from marshmallow import validate

from webapp.api.fields import QueryInteger, UtcDateTime, id_integer, integer, text
from webapp.db_limits import INT4_MAX

LEVELS = ("beginner", "intermediate", "advanced")


class CreateWorkoutIn(Schema):
    """The body of POST /llm/create-workout."""

    prompt = text(required=True, blank=False, metadata={"description": "What workout to compose."})


class TrainingPrinciplesIn(Schema):
    """The body of POST /llm/create-training-principles."""

    name = text(max_length=200, required=True)
    goal = text(max_length=200, required=True)
    experience_level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    sessions_per_week = integer(1, 14, required=True)
    weeks = integer(1, 52, required=True)
    health_notes = text(
        min_length=0,
        required=False,
        allow_none=True,
        metadata={"description": "Sent to the LLM, never logged or returned."},
    )


class ReviseIn(Schema):
    """The body of POST /workouts/{workout_id}/revise."""

    feedback = text(required=True, blank=False)


class AcceptIn(Schema):
    """The optional body of POST /workouts/{workout_id}/revise/accept."""

    revision_id = id_integer(INT4_MAX, metadata={
        "description": "Defaults to the latest pending. A plain integer: 3, not 3.0 or 3e0."})


class IdempotencyHeaders(Schema):
    """The optional Idempotency-Key header of the operations queued as jobs."""

    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        # Optional, and never null: no load_default=None, which would publish a nullable header.
        validate=[validate.Length(min=1, max=255), validate.Regexp(r"^[!-~]+$")],
        metadata={"description": "Repeat a request safely: the same key returns the same job."},
    )


class JobAcceptedHeaders(Schema):
    """The headers of a 202: where to poll the job."""

    location = fields.String(
        data_key="Location", required=True,
        metadata={"description": "The job's `status_url`: poll it for the job's progress."},
    )


class JobAcceptedOut(Schema):
    """The 202 answer of a queued operation: the job and where to poll it."""

    job_id = fields.UUID(required=True)
    status = fields.String(required=True)
    status_url = fields.String(required=True)


class JobOut(Schema):
    """A job's status, and its result or error: the answer of GET /jobs/{job_id}."""

    job_id = fields.UUID(required=True)
    status = fields.String(
        required=True, validate=validate.OneOf(("queued", "running", "succeeded", "failed"))
    )
    operation_type = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    started_at = UtcDateTime(required=True, allow_none=True)
    finished_at = UtcDateTime(required=True, allow_none=True)
    result = fields.Dict(required=True, allow_none=True, metadata={"description": "Once succeeded."})
    error = fields.Dict(required=True, allow_none=True, metadata={"description": "Once failed."})


class ExerciseOut(Schema):
    """One exercise of a workout."""

    name = fields.String(required=True)
    sets = fields.Integer(required=True)
    reps = fields.Integer(required=True, allow_none=True)
    duration_seconds = fields.Integer(required=True, allow_none=True)
    rest_seconds = fields.Integer(required=True)
    notes = fields.String(required=True)


class LlmUsageOut(Schema):
    """What the LLM cost an object over its life: every logged call about it."""

    calls = fields.Integer(required=True, metadata={
        "description": "Logged calls about it: its creation, revisions and accepts."})
    total_tokens = fields.Integer(required=True)
    total_cost_usd = fields.Float(required=True, metadata={"description": "The known costs, summed."})


class WorkoutOut(Schema):
    """A workout: the answer of GET /workouts/{workout_id} and of accepting a revision."""

    id = fields.Integer(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    duration_minutes = fields.Integer(required=True)
    difficulty = fields.String(required=True, validate=validate.OneOf(LEVELS))
    exercises = fields.List(fields.Nested(ExerciseOut), required=True)
    version = fields.Integer(required=True)
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)
    llm_usage = fields.Nested(LlmUsageOut, required=True)


class WorkoutItemOut(WorkoutOut):
    """A workout as an item of a listing (a class of its own, so APIFlask names it once)."""


class WorkoutListOut(Schema):
    """A page of the caller's workouts: the answer of GET /workouts."""

    items = fields.List(fields.Nested(WorkoutItemOut), required=True)
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)


class WorkoutListQuery(Schema):
    """The query parameters of GET /workouts."""

    limit = QueryInteger(load_default=50, validate=validate.Range(min=1, max=100))
    offset = QueryInteger(load_default=0, validate=validate.Range(min=0, max=INT4_MAX))


class PrincipleOut(Schema):
    """One principle of a training plan."""

    title = fields.String(required=True)
    description = fields.String(required=True)


class TrainingPlanOut(Schema):
    """A training plan: the answer of GET /training-plans/{plan_id}."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    goal = fields.String(required=True)
    experience_level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    sessions_per_week = fields.Integer(required=True)
    weeks = fields.Integer(required=True)
    principles = fields.List(fields.Nested(PrincipleOut), required=True)
    weekly_structure = fields.String(required=True)
    progression = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    llm_usage = fields.Nested(LlmUsageOut, required=True)
