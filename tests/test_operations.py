"""The LLM operations end to end: API → Redis → a real Celery worker → the openai client
→ a local OpenAI-compatible server, with the jobs and log rows a user would see."""

import collections
import threading
import time
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from webapp.extensions import db
from webapp.models import Job, LlmCallLog, Workout

pytestmark = pytest.mark.usefixtures("celery_worker")

PLAN = {"name": "Spring block", "goal": "Run a 10k", "experience_level": "beginner",
        "sessions_per_week": 3, "weeks": 8}
CLIENT_META = {"User-Agent": "fitness-web/2.1"}


def poll(client, headers, job_id, timeout=30):
    """Poll the job until it ends; return its JSON."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}", headers=headers).get_json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end within {timeout} s: {job}")


def submit(client, headers, path="/llm/create-workout", body=None, extra_headers=None):
    response = client.post(path, json={"prompt": "30 minute leg workout"} if body is None else body,
                           headers={**headers, **CLIENT_META, **(extra_headers or {})})
    assert response.status_code == 202, response.get_json()
    return response


def log_rows(app, expected):
    """The log rows, once there are `expected` of them: a success row is written just
    after the job's result is committed, so it may trail the job by a moment."""
    deadline = time.monotonic() + 5
    with app.app_context():
        while True:
            rows = db.session.scalars(select(LlmCallLog).order_by(LlmCallLog.id)).all()
            if len(rows) >= expected or time.monotonic() > deadline:
                return rows
            db.session.rollback()
            time.sleep(0.02)


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_create_workout_answers_202_and_the_job_yields_the_workout(app, client, auth, llm):
    _, headers = auth.user()
    response = submit(client, headers)
    body = response.get_json()
    assert body["status"] == "queued"
    assert body["status_url"] == f"/jobs/{body['job_id']}"
    assert response.headers["Location"].endswith(body["status_url"])

    job = poll(client, headers, body["job_id"])
    assert job["status"] == "succeeded"
    assert job["error"] is None
    assert job["operation_type"] == "workout_creation"
    for key in ("created_at", "started_at", "finished_at"):
        assert datetime.fromisoformat(job[key]).utcoffset().total_seconds() == 0
    workout = job["result"]["workout"]
    assert job["result"]["workout_id"] == workout["id"]
    assert workout["title"] == "Leg day" and workout["version"] == 1
    fetched = client.get(f"/workouts/{workout['id']}", headers=headers).get_json()
    assert fetched["exercises"] == workout["exercises"]
    assert set(fetched) == {"id", "title", "description", "duration_minutes", "difficulty",
                            "exercises", "version", "created_at", "updated_at", "llm_usage"}
    # The user's own text went verbatim into the last user message, as JSON was asked for.
    [sent] = llm.requests
    assert sent["messages"][-1] == {"role": "user", "content": "30 minute leg workout"}
    assert sent["response_format"]["type"] == "json_schema"


def test_a_successful_call_writes_one_complete_log_row(app, client, auth, llm):
    user_id, headers = auth.user()
    job = poll(client, headers, submit(client, headers).get_json()["job_id"])
    [row] = log_rows(app, 1)
    assert row.success is True and row.http_status_code == 200
    assert row.user_id == str(user_id)
    assert (row.endpoint_name, row.llm_operation_type) == ("llm/create-workout", "workout_creation")
    assert row.request_data == {"prompt": "30 minute leg workout"}
    assert row.workout_id == job["result"]["workout_id"]
    assert str(row.job_id) == job["job_id"]
    assert (row.model, row.prompt_tokens, row.completion_tokens, row.total_tokens) == (
        "gpt-4o-mini", 120, 80, 200)
    assert row.cost_usd == Decimal("0.000066")  # 120 × 0.15 + 80 × 0.60 per million
    assert row.attempt == 1
    assert row.queue_wait_ms is not None and row.queue_wait_ms >= 0
    assert row.duration_ms is not None
    assert (row.method, row.user_agent, row.ip_address) == ("POST", "fitness-web/2.1", "127.0.0.1")
    assert row.response_summary.startswith(f"Created workout {row.workout_id} \"Leg day\"")


def test_a_rate_limit_then_success_logs_two_attempts_and_honours_retry_after(
        app, client, auth, llm):
    _, headers = auth.user()
    llm.then(status=429, headers={"Retry-After": "1"})
    job = poll(client, headers, submit(client, headers).get_json()["job_id"])
    assert job["status"] == "succeeded"
    first, second = log_rows(app, 2)
    assert (first.attempt, first.success, first.http_status_code, first.error_type) == (
        1, False, 429, "RateLimitError")
    assert first.workout_id is None
    assert first.total_tokens is None  # a refused call used no tokens
    assert (second.attempt, second.success, second.http_status_code) == (2, True, 200)
    assert second.total_tokens == 200
    assert (second.timestamp - first.timestamp).total_seconds() >= 1.0
    assert count(app, Workout) == 1


def test_server_errors_until_retries_run_out_fail_the_job(app, client, auth, llm):
    _, headers = auth.user()
    for _ in range(3):
        llm.then(status=500)
    job = poll(client, headers, submit(client, headers).get_json()["job_id"])
    assert job["status"] == "failed"
    assert job["result"] is None
    assert job["error"]["type"] == "InternalServerError"
    rows = log_rows(app, 3)
    assert [(r.attempt, r.success, r.http_status_code, r.error_type, r.total_tokens)
            for r in rows] == [
        (1, False, 500, "InternalServerError", None),
        (2, False, 500, "InternalServerError", None),
        (3, False, 500, "InternalServerError", None),
    ]
    assert all(str(r.job_id) == job["job_id"] for r in rows)
    assert len(llm.requests) == 3
    assert count(app, Workout) == 0


def test_a_timeout_on_every_attempt_is_logged_as_504(app, client, auth, llm):
    _, headers = auth.user()
    for _ in range(3):
        llm.then(delay_s=2.5)
    job = poll(client, headers, submit(client, headers).get_json()["job_id"], timeout=60)
    assert job["status"] == "failed"
    assert job["error"]["type"] == "APITimeoutError"
    assert [(r.attempt, r.http_status_code, r.error_type, r.total_tokens)
            for r in log_rows(app, 3)] == [
        (1, 504, "APITimeoutError", None),
        (2, 504, "APITimeoutError", None),
        (3, 504, "APITimeoutError", None),
    ]
    assert count(app, Workout) == 0


@pytest.mark.parametrize(
    "content",
    ["Sure! Here is your workout: squats.",
     {"title": "No exercises", "description": "d", "duration_minutes": 30,
      "difficulty": "beginner", "exercises": []},
     {"title": "Too long", "description": "d", "duration_minutes": 999,
      "difficulty": "beginner", "exercises": [{"name": "x", "sets": 1, "reps": 1,
                                               "rest_seconds": 0, "notes": ""}]},
     {"title": "Nul\u0000day", "description": "d", "duration_minutes": 30,
      "difficulty": "beginner", "exercises": [{"name": "x", "sets": 1, "reps": 1,
                                               "rest_seconds": 0, "notes": ""}]}],
    ids=["not-json", "no-exercises", "duration-out-of-range", "nul-in-title"],
)
def test_output_that_is_not_valid_fails_the_job_without_retrying(app, client, auth, llm, content):
    _, headers = auth.user()
    llm.then_content(content)
    job = poll(client, headers, submit(client, headers).get_json()["job_id"])
    assert job["status"] == "failed"
    assert job["error"]["type"] == "InvalidLLMOutput"
    [row] = log_rows(app, 1)
    assert (row.success, row.http_status_code, row.error_type) == (False, 502, "InvalidLLMOutput")
    assert row.total_tokens == 200  # the call still cost tokens
    assert len(llm.requests) == 1
    assert count(app, Workout) == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("<html><body>Bad gateway</body></html>", "text/html"),
     ("Ollama is running", "text/plain"),
     ("[1, 2]", "application/json"),
     ({"choices": [1]}, "application/json"),
     ({"choices": "abc"}, "application/json"),
     ({"choices": [{"message": 5}]}, "application/json")],
    ids=["html-page", "plain-text", "json-array", "choice-not-an-object", "choices-not-a-list",
         "message-not-an-object"],
)
def test_a_200_that_is_no_chat_completion_fails_the_job_as_invalid_output(
        app, client, auth, llm, body, content_type):
    """A server that answers 200 with something else (a proxy's page, a wrong base URL) sent
    output that does not fit: InvalidLLMOutput, 502, not retried, no Python internals shown."""
    _, headers = auth.user()
    llm.then(body=body, headers={"Content-Type": content_type})
    job = poll(client, headers, submit(client, headers).get_json()["job_id"])
    assert job["status"] == "failed"
    assert job["error"]["type"] == "InvalidLLMOutput"
    [row] = log_rows(app, 1)
    assert (row.success, row.http_status_code, row.error_type) == (False, 502, "InvalidLLMOutput")
    for text in (job["error"]["message"], row.error_message):
        assert "attribute" not in text and "Expecting value" not in text, text
    assert len(llm.requests) == 1
    assert count(app, Workout) == 0


@pytest.mark.parametrize("usage", [5, {"prompt_tokens": "many", "completion_tokens": [],
                                    "total_tokens": None}])
def test_a_usage_block_of_another_shape_leaves_the_tokens_unknown(app, client, auth, llm, usage):
    _, headers = auth.user()
    llm.then_content(llm_server_workout(), usage=usage)
    job = poll(client, headers, submit(client, headers).get_json()["job_id"])
    assert job["status"] == "succeeded", job["error"]
    [row] = log_rows(app, 1)
    assert (row.success, row.prompt_tokens, row.total_tokens, row.cost_usd) == (
        True, None, None, None)


def test_training_principles_reach_the_llm_with_health_notes_that_are_never_logged(
        app, client, auth, llm):
    _, headers = auth.user()
    body = {**PLAN, "health_notes": "Old knee injury, left side"}
    job = poll(client, headers, submit(client, headers, "/llm/create-training-principles",
                                       body).get_json()["job_id"])
    assert job["status"] == "succeeded"
    plan = job["result"]["training_plan"]
    assert job["result"]["training_plan_id"] == plan["id"]
    assert "health_notes" not in plan
    assert plan["principles"][0]["title"] == "Progressive overload"
    assert "Old knee injury" in llm.requests[0]["messages"][-1]["content"]
    [row] = log_rows(app, 1)
    assert row.request_data == PLAN
    assert row.training_plan_id == plan["id"]
    assert row.endpoint_name == "llm/create-training-principles"
    fetched = client.get(f"/training-plans/{plan['id']}", headers=headers).get_json()
    assert fetched["weekly_structure"] == plan["weekly_structure"]
    assert "Old knee injury" not in str(fetched)
    with app.app_context():
        stored = db.session.get(Job, job["job_id"])
        assert "health_notes" not in stored.payload


def _create_workout(client, headers):
    job = poll(client, headers, submit(client, headers).get_json()["job_id"])
    return job["result"]["workout_id"]


def _revise(client, headers, workout_id, feedback="make it shorter"):
    response = client.post(f"/workouts/{workout_id}/revise", json={"feedback": feedback},
                           headers=headers)
    assert response.status_code == 202, response.get_json()
    return poll(client, headers, response.get_json()["job_id"])


def test_revise_then_accept_updates_the_workout_and_its_version(app, client, auth, llm):
    _, headers = auth.user()
    workout_id = _create_workout(client, headers)
    revised = {**llm_server_workout(), "title": "Short leg day", "duration_minutes": 20}
    llm.then_content(revised)
    job = _revise(client, headers, workout_id)
    assert job["status"] == "succeeded"
    assert job["result"]["workout_id"] == workout_id
    assert job["result"]["revised_workout"]["title"] == "Short leg day"
    assert client.get(f"/workouts/{workout_id}", headers=headers).get_json()["version"] == 1

    response = client.post(f"/workouts/{workout_id}/revise/accept", headers=headers)
    assert response.status_code == 200
    workout = response.get_json()
    assert (workout["title"], workout["duration_minutes"], workout["version"]) == (
        "Short leg day", 20, 2)

    rows = log_rows(app, 3)
    revise_row, accept_row = rows[-2], rows[-1]
    assert revise_row.endpoint_name == "workouts/{workout_id}/revise"
    assert revise_row.request_data == {"workout_id": workout_id, "feedback": "make it shorter"}
    assert revise_row.workout_id == workout_id
    assert accept_row.endpoint_name == "workouts/{workout_id}/revise/accept"
    assert accept_row.success is True and accept_row.job_id is None
    assert accept_row.request_data["revision_id"] == job["result"]["revision_id"]
    assert "Short leg day" in accept_row.request_data["revised_workout"]
    assert accept_row.workout_id == workout_id


def llm_server_workout():
    from tests.llm_server import VALID_WORKOUT

    return dict(VALID_WORKOUT)


def test_accepting_a_superseded_revision_is_409_and_logged(app, client, auth, llm):
    _, headers = auth.user()
    workout_id = _create_workout(client, headers)
    older = _revise(client, headers, workout_id)["result"]["revision_id"]
    newer = _revise(client, headers, workout_id, "more legs")["result"]["revision_id"]
    response = client.post(f"/workouts/{workout_id}/revise/accept",
                           json={"revision_id": older}, headers=headers)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
    row = log_rows(app, 4)[-1]
    assert (row.success, row.http_status_code, row.workout_id) == (False, 409, workout_id)
    accepted = client.post(f"/workouts/{workout_id}/revise/accept",
                           json={"revision_id": newer}, headers=headers)
    assert accepted.status_code == 200


def test_accepting_a_revision_made_against_an_older_version_is_409(app, client, auth, llm):
    _, headers = auth.user()
    workout_id = _create_workout(client, headers)
    first = _revise(client, headers, workout_id)["result"]["revision_id"]
    assert client.post(f"/workouts/{workout_id}/revise/accept", json={"revision_id": first},
                       headers=headers).status_code == 200
    # Made against version 2, then the workout moves on to version 3 through another one.
    stale = _revise(client, headers, workout_id, "harder")["result"]["revision_id"]
    with app.app_context():
        from webapp.models import WorkoutRevision

        revision = db.session.get(WorkoutRevision, stale)
        revision.base_version = 1
        db.session.commit()
    response = client.post(f"/workouts/{workout_id}/revise/accept", json={"revision_id": stale},
                           headers=headers)
    assert response.status_code == 409


def test_accept_without_a_pending_revision_is_404_and_logged(app, client, auth, llm):
    _, headers = auth.user()
    workout_id = _create_workout(client, headers)
    response = client.post(f"/workouts/{workout_id}/revise/accept", json={}, headers=headers)
    assert response.status_code == 404
    row = log_rows(app, 2)[-1]
    assert (row.endpoint_name, row.success, row.http_status_code, row.workout_id) == (
        "workouts/{workout_id}/revise/accept", False, 404, workout_id)
    assert (row.error_type, row.error_message) == (
        "NotFound", f"Workout {workout_id} has no pending revision.")


def test_an_idempotency_key_returns_the_same_job_and_calls_the_llm_once(app, client, auth, llm):
    _, headers = auth.user()
    key = {"Idempotency-Key": "create-legs-1"}
    first = submit(client, headers, extra_headers=key)
    poll(client, headers, first.get_json()["job_id"])
    second = submit(client, headers, extra_headers=key)
    assert second.get_json() == first.get_json()
    assert second.headers["Location"] == first.headers["Location"]
    assert len(llm.requests) == 1
    assert count(app, Workout) == 1


def test_an_idempotency_key_with_a_different_body_is_409(client, auth, llm):
    _, headers = auth.user()
    key = {"Idempotency-Key": "k-2"}
    submit(client, headers, extra_headers=key)
    response = client.post("/llm/create-workout", json={"prompt": "something else"},
                           headers={**headers, **key})
    assert response.status_code == 409


def test_the_same_idempotency_key_of_another_user_is_another_job(client, auth, llm):
    _, alice = auth.user()
    _, bob = auth.user()
    key = {"Idempotency-Key": "shared-key"}
    assert (submit(client, alice, extra_headers=key).get_json()["job_id"]
            != submit(client, bob, extra_headers=key).get_json()["job_id"])


def test_another_users_job_workout_and_plan_are_404(app, client, auth, llm):
    _, owner = auth.user()
    _, other = auth.user()
    job = poll(client, owner, submit(client, owner).get_json()["job_id"])
    workout_id = job["result"]["workout_id"]
    plan_job = poll(client, owner, submit(client, owner, "/llm/create-training-principles",
                                          PLAN).get_json()["job_id"])
    assert client.get(f"/jobs/{job['job_id']}", headers=other).status_code == 404
    assert client.get(f"/workouts/{workout_id}", headers=other).status_code == 404
    assert client.get(f"/training-plans/{plan_job['result']['training_plan_id']}",
                      headers=other).status_code == 404
    assert client.post(f"/workouts/{workout_id}/revise", json={"feedback": "x"},
                       headers=other).status_code == 404
    assert client.get("/workouts", headers=other).get_json()["items"] == []
    assert [w["id"] for w in client.get("/workouts", headers=owner).get_json()["items"]] == [
        workout_id]


def test_no_database_connection_is_held_while_the_llm_answers(app, client, auth, llm):
    """Connections the worker's thread holds when the LLM is asked (the test's own polling
    requests, in the main thread, may hold one meanwhile)."""
    _, headers = auth.user()
    by_thread = collections.Counter()
    main = threading.get_ident()
    with app.app_context():
        engine = db.engine

    def checkout(*_):
        by_thread[threading.get_ident()] += 1

    def checkin(*_):
        by_thread[threading.get_ident()] -= 1

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    held = []
    llm.on_request = lambda: held.append(
        sum(count for thread, count in by_thread.items() if thread != main))
    try:
        workout_id = _create_workout(client, headers)
        assert _revise(client, headers, workout_id)["status"] == "succeeded"
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
    assert held == [0, 0]
