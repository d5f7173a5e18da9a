"""The messages sent for each operation.

Instructions and the answer's schema go in the system message; the user's own
text (prompt, feedback, plan fields) goes verbatim in the last user message.
"""

import json

from webapp.llm.schemas import JSON_SCHEMAS

_INSTRUCTIONS = {
    "workout": (
        "You are an experienced strength and conditioning coach. Compose one workout from the "
        "user's request: honour the duration, focus, level, equipment and any restrictions they "
        "name. Every exercise has sets and either reps or duration_seconds."
    ),
    "workout_revision": (
        "You are an experienced strength and conditioning coach. Revise the current workout "
        "according to the user's feedback, changing only what the feedback asks for, and answer "
        "the whole revised workout."
    ),
    "training_principles": (
        "You are an experienced strength and conditioning coach. Write the training principles, "
        "the weekly structure and the progression for the training plan the user describes. "
        "Respect any health notes cautiously."
    ),
}


def _system(kind):
    return (
        f"{_INSTRUCTIONS[kind]}\n\nAnswer with one JSON object only, matching this JSON schema:\n"
        f"{json.dumps(JSON_SCHEMAS[kind])}"
    )


def workout_messages(prompt):
    """Messages asking for a new workout from a free-text prompt."""
    return [{"role": "system", "content": _system("workout")}, {"role": "user", "content": prompt}]


def training_principles_messages(plan):
    """Messages asking for training principles; `plan` may include health_notes."""
    return [
        {"role": "system", "content": _system("training_principles")},
        {"role": "user", "content": json.dumps(plan, ensure_ascii=False)},
    ]


def workout_revision_messages(current_workout, feedback):
    """Messages asking to revise `current_workout` (a WorkoutDraft dict) from feedback."""
    return [
        {"role": "system", "content": _system("workout_revision")},
        {"role": "user", "content": "Current workout:\n" + json.dumps(current_workout, ensure_ascii=False)},
        {"role": "user", "content": feedback},
    ]
