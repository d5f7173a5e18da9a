"""What the operation routes refuse, and that a refusal is no LLM call: no job, no log row."""

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Job, LlmCallLog

PLAN = {"name": "Block", "goal": "Strength", "experience_level": "advanced",
        "sessions_per_week": 4, "weeks": 12}


def _nothing_recorded(app):
    with app.app_context():
        jobs = db.session.scalar(select(func.count()).select_from(Job))
        logs = db.session.scalar(select(func.count()).select_from(LlmCallLog))
    return jobs == 0 and logs == 0


def _fields(response):
    return response.get_json()["error"]["details"]["fields"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/llm/create-workout", {}, "prompt"),
        ("/llm/create-workout", {"prompt": ""}, "prompt"),
        ("/llm/create-workout", {"prompt": "x" * 4001}, "prompt"),
        ("/llm/create-workout", {"prompt": 42}, "prompt"),
        ("/llm/create-workout", {"prompt": "nul\x00byte"}, "prompt"),
        ("/llm/create-workout", {"prompt": " \t\n  "}, "prompt"),
        ("/llm/create-workout", {"prompt": "\u2003\u00a0"}, "prompt"),
        ("/llm/create-workout", {"prompt": "ok", "model": "gpt-5"}, "model"),
        ("/llm/create-training-principles", {**PLAN, "experience_level": "expert"},
         "experience_level"),
        ("/llm/create-training-principles", {**PLAN, "sessions_per_week": 15}, "sessions_per_week"),
        ("/llm/create-training-principles", {**PLAN, "sessions_per_week": "3"}, "sessions_per_week"),
        ("/llm/create-training-principles", {**PLAN, "weeks": 0}, "weeks"),
        ("/llm/create-training-principles", {**PLAN, "weeks": True}, "weeks"),
        ("/llm/create-training-principles", {**PLAN, "name": "n" * 201}, "name"),
        ("/llm/create-training-principles", {k: v for k, v in PLAN.items() if k != "goal"}, "goal"),
    ],
)
def test_invalid_bodies_are_400_naming_the_field(app, client, auth, path, body, field):
    _, headers = auth.user()
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "validation_error"
    assert field in _fields(response)
    assert _nothing_recorded(app)


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("", "application/json", 400),
        ("[1, 2]", "application/json", 400),
        ('"just a string"', "application/json", 400),
        ("null", "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        ("[" * 5000 + "]" * 5000, "application/json", 400),
        ("", None, 400),
        ("prompt=legs", "application/x-www-form-urlencoded", 415),
        ('{"prompt": "legs"}', "text/plain", 415),
        ('{"prompt": "legs"}', None, 415),
        ('{"prompt": "legs"}', "application/vnd.api+json", 415),
        ('{"prompt": "legs"}', "application/merge-patch+json", 415),
    ],
)
def test_bodies_that_are_not_a_json_object_are_refused(app, client, auth, data, content_type,
                                                       status):
    _, headers = auth.user()
    if content_type:
        headers = {**headers, "Content-Type": content_type}
    response = client.post("/llm/create-workout", data=data, headers=headers)
    assert response.status_code == status
    assert response.is_json and "error" in response.get_json()
    assert _nothing_recorded(app)


def test_a_body_over_the_size_limit_is_413(client, auth):
    _, headers = auth.user()
    response = client.post("/llm/create-workout", json={"prompt": "x" * 200_000}, headers=headers)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/llm/create-workout"),
        ("post", "/llm/create-training-principles"),
        ("post", "/workouts/1/revise"),
        ("post", "/workouts/999999/revise/accept"),
        ("get", "/jobs/00000000-0000-0000-0000-000000000000"),
        ("get", "/workouts"),
        ("get", "/workouts/1"),
        ("get", "/training-plans/1"),
        # Whatever the id names: authentication comes before the id is judged.
        ("get", "/jobs/not-a-uuid"),
        ("get", "/workouts/abc"),
        ("get", "/training-plans/-1"),
        ("post", "/workouts/abc/revise"),
        ("post", "/workouts/1.5/revise/accept"),
        ("get", "/llm-logs/abc"),
    ],
)
def test_authentication_comes_before_validation(app, client, method, path):
    response = getattr(client, method)(path, data="not json", content_type="text/plain")
    assert response.status_code == 401
    assert _nothing_recorded(app)


def test_an_invalid_idempotency_key_is_400(client, auth):
    _, headers = auth.user()
    response = client.post("/llm/create-workout", json={"prompt": "legs"},
                           headers={**headers, "Idempotency-Key": "x" * 300})
    assert response.status_code == 400
    assert "Idempotency-Key" in _fields(response)


@pytest.mark.parametrize("path", ["/workouts/2147483648", "/workouts/99999999999999999999",
                                  "/training-plans/99999999999999999999", "/workouts/abc",
                                  "/training-plans/-1", "/jobs/not-a-uuid", "/jobs/1234"])
def test_ids_that_cannot_exist_are_404_for_an_authenticated_caller(client, auth, path):
    _, headers = auth.user()
    assert client.get(path, headers=headers).status_code == 404


def test_revising_a_workout_that_does_not_exist_is_404_without_a_job(app, client, auth):
    _, headers = auth.user()
    response = client.post("/workouts/12345/revise", json={"feedback": "shorter"}, headers=headers)
    assert response.status_code == 404
    assert _nothing_recorded(app)


def test_accept_with_a_body_that_is_not_json_is_415(client, auth):
    _, headers = auth.user()
    response = client.post("/workouts/1/revise/accept", data="revision_id=1",
                           content_type="application/x-www-form-urlencoded", headers=headers)
    assert response.status_code == 415


def test_accept_with_a_bad_revision_id_is_400(client, auth):
    _, headers = auth.user()
    response = client.post("/workouts/1/revise/accept", json={"revision_id": "one"},
                           headers=headers)
    assert response.status_code == 400
    assert "revision_id" in _fields(response)


def test_whitespace_only_feedback_is_400_like_an_empty_one(app, client, auth):
    _, headers = auth.user()
    for feedback in ("", "   ", "\n\t"):
        response = client.post("/workouts/1/revise", json={"feedback": feedback}, headers=headers)
        assert response.status_code == 400
        assert "feedback" in _fields(response)
    assert _nothing_recorded(app)


def _workout_with_a_pending_revision(app, user_id):
    from tests.llm_server import VALID_WORKOUT
    from webapp.models import Workout, WorkoutRevision

    with app.app_context():
        workout = Workout(user_id=user_id)
        workout.apply(VALID_WORKOUT)
        db.session.add(workout)
        db.session.flush()
        revision = WorkoutRevision(workout_id=workout.id, user_id=user_id, base_version=1,
                                   feedback="harder", revised={**VALID_WORKOUT, "title": "Harder"})
        db.session.add(revision)
        db.session.commit()
        return workout.id, revision.id


@pytest.mark.parametrize("written", ["{:d}.0", "{:d}e0", "{:d}E0", "{:d}0e-1"])
def test_a_revision_id_not_written_as_a_plain_integer_names_no_revision(app, client, auth,
                                                                         written):
    user_id, headers = auth.user()
    workout_id, revision_id = _workout_with_a_pending_revision(app, user_id)
    response = client.post(f"/workouts/{workout_id}/revise/accept",
                           data='{"revision_id": %s}' % written.format(revision_id),
                           content_type="application/json", headers=headers)
    assert response.status_code == 400
    assert "revision_id" in _fields(response)
    workout = client.get(f"/workouts/{workout_id}", headers=headers).get_json()
    assert (workout["version"], workout["title"]) != (2, "Harder")
