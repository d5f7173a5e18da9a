"""The shapes an LLM must answer in, validated before anything is stored.

The same models give the JSON schema sent in ``response_format`` and the
validation applied to the answer, so the two cannot drift apart.
"""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

Difficulty = Literal["beginner", "intermediate", "advanced"]


def _storable(text):
    # PostgreSQL cannot store NUL in text or JSON; such an answer is invalid output.
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


Text = Annotated[str, AfterValidator(_storable)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Exercise(_Strict):
    """One exercise of a workout: counted in reps, or held for a duration."""

    name: Text = Field(min_length=1, max_length=200)
    sets: int = Field(ge=1, le=20)
    reps: int | None = Field(default=None, ge=1, le=1000)
    duration_seconds: int | None = Field(default=None, ge=1, le=7200)
    rest_seconds: int = Field(ge=0, le=900)
    notes: Text = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _reps_or_duration(self):
        if self.reps is None and self.duration_seconds is None:
            raise ValueError("an exercise needs reps or duration_seconds")
        return self


class WorkoutDraft(_Strict):
    """A workout as the LLM composes it, before it gets an id."""

    title: Text = Field(min_length=1, max_length=200)
    description: Text = Field(min_length=1, max_length=4000)
    duration_minutes: int = Field(ge=1, le=300)
    difficulty: Difficulty
    exercises: list[Exercise] = Field(min_length=1, max_length=50)


class Principle(_Strict):
    """One training principle of a plan."""

    title: Text = Field(min_length=1, max_length=200)
    description: Text = Field(min_length=1, max_length=4000)


class TrainingPrinciplesDraft(_Strict):
    """The principles, weekly structure and progression of a training plan."""

    principles: list[Principle] = Field(min_length=1, max_length=20)
    weekly_structure: Text = Field(min_length=1, max_length=4000)
    progression: Text = Field(min_length=1, max_length=4000)


# The name sent as response_format.json_schema.name for each kind of call.
SCHEMA_NAMES = {
    "workout": WorkoutDraft,
    "workout_revision": WorkoutDraft,
    "training_principles": TrainingPrinciplesDraft,
}

# Their JSON schemas, made once: sent as response_format and shown in the system message.
JSON_SCHEMAS = {kind: model.model_json_schema() for kind, model in SCHEMA_NAMES.items()}
