"""Marshmallow schemas of the operations' bodies and answers (they also make the OpenAPI doc)."""

from apiflask import Schema, fields
from marshmallow import validate

from webapp.api.validation import MAX_INT, integer, text

LEVELS = ("beginner", "intermediate", "advanced")


class CreateWorkoutIn(Schema):
    prompt = text(required=True, metadata={"description": "What workout to compose."})


class TrainingPrinciplesIn(Schema):
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
    feedback = text(required=True)


class AcceptIn(Schema):
    revision_id = integer(1, MAX_INT, metadata={"description": "Defaults to the latest pending."})


class JobAcceptedOut(Schema):
    job_id = fields.UUID(required=True)
    status = fields.String(required=True)
    status_url = fields.String(required=True)


class JobOut(Schema):
    job_id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("queued", "running", "succeeded", "failed")))
    operation_type = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    result = fields.Dict(allow_none=True)
    error = fields.Dict(allow_none=True)


class ExerciseOut(Schema):
    name = fields.String()
    sets = fields.Integer()
    reps = fields.Integer(allow_none=True)
    duration_seconds = fields.Integer(allow_none=True)
    rest_seconds = fields.Integer()
    notes = fields.String()


class WorkoutOut(Schema):
    id = fields.Integer()
    title = fields.String()
    description = fields.String()
    duration_minutes = fields.Integer()
    difficulty = fields.String()
    exercises = fields.List(fields.Nested(ExerciseOut))
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WorkoutListOut(Schema):
    items = fields.List(fields.Nested(WorkoutOut))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class WorkoutListQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_INT))


class PrincipleOut(Schema):
    title = fields.String()
    description = fields.String()


class TrainingPlanOut(Schema):
    id = fields.Integer()
    name = fields.String()
    goal = fields.String()
    experience_level = fields.String()
    sessions_per_week = fields.Integer()
    weeks = fields.Integer()
    principles = fields.List(fields.Nested(PrincipleOut))
    weekly_structure = fields.String()
    progression = fields.String()
    created_at = fields.DateTime()
