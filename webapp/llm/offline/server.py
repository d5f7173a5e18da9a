"""The offline backend's HTTP surface: an OpenAI-compatible Chat Completions endpoint.

It checks the request, hands the user's messages to the composer the response format names,
and answers in OpenAI's shapes, errors included, so the `openai` client cannot tell it apart
from a real server.
"""

import json
import math
import time
import uuid

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from webapp.llm.offline.exercise_library import ALL_LEVELS
from webapp.llm.offline.principles import compose_training_principles
from webapp.llm.offline.revision import revise_workout
from webapp.llm.offline.workout import compose_workout
from webapp.llm.schemas import Exercise, WorkoutDraft

OFFLINE_MODEL = "offline-rules-v1"

app = Flask(__name__)


class OfflineRequestError(ValueError):
    """A request the offline backend cannot answer; sent back as a 400."""


def _json(text):
    """The JSON value a text holds, or None when it holds none."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _text(content):
    """A message's text, whether a string or a list of content parts."""
    if isinstance(content, list):
        return "".join(part["text"] for part in content
                       if isinstance(part, dict) and isinstance(part.get("text"), str))
    return content if isinstance(content, str) else ""


def _current_workout(user_texts):
    """The workout under revision: the latest earlier user message starting `Current workout:`."""
    text = next((t.strip() for t in reversed(user_texts[:-1])
                 if t.lstrip().startswith("Current workout:")), None)
    if text is None:
        raise OfflineRequestError("A revision needs an earlier user message starting with "
                                  "'Current workout:'.")
    try:
        raw, _ = json.JSONDecoder().raw_decode(text, text.index("{"))
        # The app may send its stored workout (id, version, ...): keep the draft's own fields.
        raw = {key: value for key, value in raw.items() if key in WorkoutDraft.model_fields}
        if isinstance(raw.get("exercises"), list):
            raw["exercises"] = [{k: v for k, v in e.items() if k in Exercise.model_fields}
                                if isinstance(e, dict) else e for e in raw["exercises"]]
        return WorkoutDraft.model_validate(raw).model_dump()
    except (ValueError, RecursionError) as exc:  # pydantic's ValidationError is a ValueError
        raise OfflineRequestError(f"The current workout is not valid: {str(exc)[:300]}") from None


def _plan(text):
    """The training plan a user message holds, checked for the fields the rules need."""
    plan = _json(text)
    if not isinstance(plan, dict):
        raise OfflineRequestError("The last user message must be the plan as a JSON object.")
    if not isinstance(plan.get("goal"), str) or not plan["goal"].strip():
        raise OfflineRequestError("The training plan needs a goal.")
    if plan.get("experience_level") not in ALL_LEVELS:
        raise OfflineRequestError("experience_level must be beginner, intermediate or advanced.")
    for key, top in (("sessions_per_week", 14), ("weeks", 52)):
        if type(plan.get(key)) is not int or not 1 <= plan[key] <= top:
            raise OfflineRequestError(f"{key} must be a whole number from 1 to {top}.")
    return plan


# What each response_format.json_schema.name gets, composed from the user messages' texts.
COMPOSERS = {
    "workout": lambda texts: compose_workout(texts[-1]),
    "workout_revision": lambda texts: revise_workout(_current_workout(texts), texts[-1]),
    "training_principles": lambda texts: compose_training_principles(_plan(texts[-1])),
}


def _tokens(chars):
    """A token count estimated from characters, at OpenAI's rule of thumb of four a token."""
    return max(1, math.ceil(chars / 4))


@app.post("/v1/chat/completions")
def chat_completions():
    """Answer a Chat Completions request with a result composed by rules, as JSON text."""
    body = _json(request.get_data())
    if not isinstance(body, dict):
        raise OfflineRequestError("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict)
                                                                 for m in messages):
        raise OfflineRequestError("'messages' must be a non-empty list of message objects.")
    response_format = body.get("response_format")
    schema = response_format.get("json_schema") if isinstance(response_format, dict) else None
    name = schema.get("name") if isinstance(schema, dict) else None
    if not isinstance(name, str) or name not in COMPOSERS:
        raise OfflineRequestError("response_format.json_schema.name must be one of: "
                                  f"{', '.join(COMPOSERS)}.")
    user_texts = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
    if not user_texts:
        raise OfflineRequestError("'messages' must contain a user message.")
    content = json.dumps(COMPOSERS[name](user_texts), ensure_ascii=False)
    prompt_tokens = _tokens(sum(len(_text(m.get("content"))) for m in messages))
    completion_tokens = _tokens(len(content))
    return jsonify({
        "id": f"chatcmpl-offline-{uuid.uuid4().hex}", "object": "chat.completion",
        "created": int(time.time()), "model": OFFLINE_MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    })


def _error(message, status):
    """An error answer in OpenAI's shape."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    error = {"message": message, "type": kind, "param": None, "code": None}
    return jsonify({"error": error}), status


@app.errorhandler(OfflineRequestError)
def bad_request(exc):
    """A request the rules cannot answer, in OpenAI's error shape."""
    return _error(str(exc), 400)


@app.errorhandler(HTTPException)
def http_error(exc):
    """Unknown paths, wrong methods and the like, in OpenAI's error shape."""
    return _error(exc.description, exc.code)


@app.errorhandler(Exception)
def unexpected_error(exc):
    """A bug in the rules: logged with its traceback, answered as JSON, not an HTML page."""
    app.logger.exception("The offline backend failed")
    return _error("The offline backend failed to compose an answer.", 500)
