"""The messages sent for each operation, built from named, versioned templates (SPEC section 15).

Instructions and the answer's schema go in the system message; the user's own
text (prompt, feedback, plan fields) goes verbatim in the last user message.

A change of a template's wording (its instructions, the schema it sends, the fixed text
around the user's) is a new version: bump `version`, and record the new text's hash in
`tests/prompt_versions.json` (tests/test_prompt_versions.py fails until both are done).
The name and version of the template go on every log row of a call it built.
"""

import hashlib
import json
from dataclasses import dataclass

from webapp.llm.schemas import JSON_SCHEMAS


@dataclass(frozen=True)
class PromptTemplate:
    """One prompt: its name and version, the instructions, and the answer schema it asks for."""

    name: str
    version: int
    kind: str  # the answer's schema (webapp.llm.schemas)
    instructions: str
    # Fixed text before the current workout, in a revision's first user message.
    context_prefix: str = ""

    def system(self):
        """The system message: the instructions and the schema the answer must match."""
        return (
            f"{self.instructions}\n\nAnswer with one JSON object only, matching this JSON schema:\n"
            f"{json.dumps(JSON_SCHEMAS[self.kind])}"
        )

    def text(self):
        """Everything of the template that is not the user's: what its version stands for."""
        return json.dumps([self.system(), self.context_prefix], ensure_ascii=False)

    def log_fields(self):
        """The columns that name this template on a log row."""
        return {"prompt_name": self.name, "prompt_version": self.version}

    def sha256(self):
        """The hash of `text()`, recorded beside the version in tests/prompt_versions.json."""
        return hashlib.sha256(self.text().encode()).hexdigest()


WORKOUT = PromptTemplate(
    name="workout",
    version=1,
    kind="workout",
    instructions=(
        "You are an experienced strength and conditioning coach. Compose one workout from the "
        "user's request: honour the duration, focus, level, equipment and any restrictions they "
        "name. Every exercise has sets and either reps or duration_seconds."
    ),
)
WORKOUT_REVISION = PromptTemplate(
    name="workout_revision",
    version=1,
    kind="workout_revision",
    instructions=(
        "You are an experienced strength and conditioning coach. Revise the current workout "
        "according to the user's feedback, changing only what the feedback asks for, and answer "
        "the whole revised workout."
    ),
    context_prefix="Current workout:\n",
)
TRAINING_PRINCIPLES = PromptTemplate(
    name="training_principles",
    version=1,
    kind="training_principles",
    instructions=(
        "You are an experienced strength and conditioning coach. Write the training principles, "
        "the weekly structure and the progression for the training plan the user describes. "
        "Respect any health notes cautiously."
    ),
)
TEMPLATES = (WORKOUT, WORKOUT_REVISION, TRAINING_PRINCIPLES)
# The template that builds the messages of each answer kind (client.complete's `kind`).
BY_KIND = {template.kind: template for template in TEMPLATES}
# The template of each operation a worker runs, by its llm_operation_type: every row a worker
# writes for the operation names it, an attempt that failed before its messages were sent too.
BY_OPERATION = {
    "workout_creation": WORKOUT,
    "training_principles_creation": TRAINING_PRINCIPLES,
    "workout_revision": WORKOUT_REVISION,
}


def workout_messages(prompt):
    """Messages asking for a new workout from a free-text prompt."""
    return [{"role": "system", "content": WORKOUT.system()}, {"role": "user", "content": prompt}]


def training_principles_messages(plan):
    """Messages asking for training principles; `plan` may include health_notes."""
    return [
        {"role": "system", "content": TRAINING_PRINCIPLES.system()},
        {"role": "user", "content": json.dumps(plan, ensure_ascii=False)},
    ]


def workout_revision_messages(current_workout, feedback):
    """Messages asking to revise `current_workout` (a WorkoutDraft dict) from feedback."""
    return [
        {"role": "system", "content": WORKOUT_REVISION.system()},
        {"role": "user", "content": WORKOUT_REVISION.context_prefix
         + json.dumps(current_workout, ensure_ascii=False)},
        {"role": "user", "content": feedback},
    ]
