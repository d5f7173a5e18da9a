"""A local OpenAI-compatible Chat Completions server, scripted per test.

The app's real `openai` client talks to it over HTTP. Each request takes the next
scripted reply; with the script empty it answers a valid result for the schema
the request asks for.
"""

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

VALID_WORKOUT = {
    "title": "Leg day",
    "description": "Squats, lunges and a finisher.",
    "duration_minutes": 30,
    "difficulty": "intermediate",
    "exercises": [
        {"name": "Goblet squat", "sets": 3, "reps": 12, "duration_seconds": None,
         "rest_seconds": 60, "notes": "Chest up"},
        {"name": "Plank", "sets": 3, "reps": None, "duration_seconds": 40,
         "rest_seconds": 30, "notes": ""},
    ],
}
VALID_PRINCIPLES = {
    "principles": [
        {"title": "Progressive overload", "description": "Add a little load or reps each week."},
        {"title": "Recovery", "description": "Sleep and rest days are part of the plan."},
    ],
    "weekly_structure": "Three full-body sessions on non-consecutive days.",
    "progression": "Build for three weeks, deload in the fourth.",
}
DEFAULT_USAGE = {"prompt_tokens": 120, "completion_tokens": 80, "total_tokens": 200}
# The usage block as OpenAI sends it: cached input is part of prompt_tokens, reasoning part of
# completion_tokens.
OPENAI_USAGE = {
    "prompt_tokens": 2006,
    "completion_tokens": 300,
    "total_tokens": 2306,
    "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 64, "audio_tokens": 0,
                                  "accepted_prediction_tokens": 0,
                                  "rejected_prediction_tokens": 0},
}


@dataclass
class Reply:
    """One scripted answer: a status, a JSON body or raw text, headers, and a delay."""

    status: int = 200
    body: object = None
    headers: dict = field(default_factory=dict)
    delay_s: float = 0.0


class FakeLlm:
    """The scripted server; `url` is its OpenAI base URL."""

    def __init__(self, model="gpt-4o-mini", host="127.0.0.1"):
        # The model the answers name: None echoes the model asked for; a real provider names
        # a dated snapshot of it ("gpt-4o-mini-2024-07-18").
        self.model = None
        self.fallback_model = model
        # The usage block of unscripted replies.
        self.usage = DEFAULT_USAGE
        self.script = deque()
        self.requests = []
        # (monotonic time, caller's address) of each request: which host asked, and when.
        self.callers = []
        # Called (with no arguments) as each request arrives, to look at the caller meanwhile.
        self.on_request = None
        # Seconds every unscripted reply waits, as a real LLM takes its time.
        self.default_delay_s = 0.0
        # Requests being answered now, and the most seen at once.
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = make_server(host, 0, self._wsgi, threaded=True)
        self.url = f"http://{host}:{self._server.server_port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self):
        """Stop serving."""
        self._server.shutdown()

    def reset(self):
        """Forget the script and the requests seen."""
        with self._lock:
            self.script.clear()
            self.requests.clear()
            self.callers.clear()
            self.on_request = None
            self.default_delay_s = 0.0
            self.max_in_flight = 0
            self.model = None
            self.usage = DEFAULT_USAGE

    def answer_as(self, model, usage=None):
        """Name `model` in every answer (a dated snapshot, say) and report `usage` in the
        unscripted ones, as OpenAI does."""
        self.model = model
        if usage is not None:
            self.usage = usage
        return self

    def then(self, status=200, body=None, headers=None, delay_s=0.0):
        """Queue the next reply."""
        self.script.append(Reply(status, body, headers or {}, delay_s))
        return self

    def then_content(self, content, usage=DEFAULT_USAGE, model=None):
        """Queue a 200 whose assistant message is `content` (text, or an object as JSON),
        naming `model` (by default that of answer_as, else the fake's own)."""
        text = content if isinstance(content, str) else json.dumps(content)
        return self.then(body=self._completion(text, usage, model))

    def wait_for_requests(self, count, timeout=10):
        """Block until the server has seen `count` requests."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"saw {len(self.requests)} LLM requests, expected {count}")
            time.sleep(0.02)

    def _completion(self, content, usage=DEFAULT_USAGE, model=None, requested=None):
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model or self.model or requested or self.fallback_model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": usage,
        }

    def _default_reply(self, payload):
        name = payload.get("response_format", {}).get("json_schema", {}).get("name")
        content = VALID_PRINCIPLES if name == "training_principles" else VALID_WORKOUT
        body = self._completion(json.dumps(content), self.usage, requested=payload.get("model"))
        return Reply(body=body, delay_s=self.default_delay_s)

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        payload = request.get_json(silent=True) or {}
        if self.on_request is not None:
            self.on_request()
        with self._lock:
            self.requests.append(payload)
            self.callers.append((time.monotonic(), environ.get("REMOTE_ADDR")))
            reply = self.script.popleft() if self.script else None
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            reply = reply or self._default_reply(payload)
            if reply.delay_s:
                time.sleep(reply.delay_s)
        finally:
            with self._lock:
                self.in_flight -= 1
        body = reply.body
        if body is None:
            body = {"error": {"message": f"scripted {reply.status}", "type": "server_error"}}
        data = body if isinstance(body, str) else json.dumps(body)
        response = Response(data, status=reply.status, headers=reply.headers,
                            content_type="application/json")
        return response(environ, start_response)
