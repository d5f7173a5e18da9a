"""The HTTP edges an outside fuzz run found (SPEC 4, 9, 11): each answers JSON, and right."""

import io
import uuid

import pytest

from webapp.extensions import db
from webapp.models import Workout


def _error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()["error"]


@pytest.fixture
def workout_1(app, auth):
    """A user's headers and their workout, the first one made (id 1)."""
    user_id, headers = auth.user()
    with app.app_context():
        workout = Workout(user_id=user_id, title="Legs", description="Leg day",
                          duration_minutes=30, difficulty="beginner",
                          exercises=[{"name": "Squat", "sets": 3, "reps": 10,
                                      "duration_seconds": None, "rest_seconds": 60,
                                      "notes": ""}])
        db.session.add(workout)
        db.session.commit()
        return headers, workout.id


@pytest.mark.parametrize("path", ["/workouts//1", "/workouts///1", "/llm-logs//my-logs",
                                  "/jobs//00000000-0000-0000-0000-000000000000"])
def test_a_doubled_slash_is_the_same_route_so_401_without_a_token(client, path):
    error = _error(client.get(path), 401)
    assert error["code"] == "unauthorized"


def test_a_doubled_slash_reaches_the_workout_with_a_token(client, workout_1):
    headers, workout_id = workout_1
    response = client.get(f"/workouts//{workout_id}", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["id"] == workout_id


@pytest.mark.parametrize("segment", ["0", "-1", "+1", "1e3", "01", "001", "١", "１", " 1", "1.0"])
def test_an_id_not_written_canonically_names_nothing(client, workout_1, segment):
    headers, workout_id = workout_1
    assert workout_id == 1
    error = _error(client.get(f"/workouts/{segment}", headers=headers), 404)
    assert "None" not in error["message"]
    assert "Workout" in error["message"] or "workout" in error["message"]


def test_a_404_names_the_thing_for_people_not_our_class(client, auth):
    _, headers = auth.user()
    assert _error(client.get("/training-plans/7", headers=headers), 404)["message"] == (
        "Training plan 7 does not exist."
    )
    assert _error(client.get("/workouts/abc", headers=headers), 404)["message"] == (
        "No such workout."
    )


def test_a_job_id_not_in_its_canonical_form_names_nothing(client, auth, app):
    from webapp.models import Job

    user_id, headers = auth.user()
    job_id = uuid.uuid4()
    with app.app_context():
        db.session.add(Job(id=job_id, user_id=user_id, operation_type="workout_creation",
                           status="queued", payload={"prompt": "x"}, request_meta={},
                           attempts=0))
        db.session.commit()
    assert client.get(f"/jobs/{job_id}", headers=headers).status_code == 200
    for spelling in (str(job_id).upper(), job_id.hex, f"{{{job_id}}}", f"urn:uuid:{job_id}"):
        error = _error(client.get(f"/jobs/{spelling}", headers=headers), 404)
        assert "None" not in error["message"]


@pytest.mark.parametrize("body", [
    b"\xef\xbb\xbf" + b'{"prompt": "legs"}',
    '{"prompt": "legs"}'.encode("utf-16"),
    '{"prompt": "legs"}'.encode("utf-16-le"),
    '{"prompt": "legs"}'.encode("utf-32"),
])
def test_a_body_with_a_byte_order_mark_or_in_utf16_is_malformed_json_naming_the_body(
        app, client, auth, body):
    _, headers = auth.user()
    response = client.post("/llm/create-workout", data=body,
                           headers={**headers, "Content-Type": "application/json"})
    error = _error(response, 400)
    assert "body" in error["details"]["fields"]


def test_a_chunked_body_over_64_kib_is_413(client, auth):
    _, headers = auth.user()
    body = b'{"prompt": "' + b"x" * 70_000 + b'"}'
    # No Content-Length: the server (gunicorn) ends the chunked stream and says so.
    response = client.post("/llm/create-workout", input_stream=io.BytesIO(body),
                           headers={**headers, "Content-Type": "application/json",
                                    "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})
    assert _error(response, 413)["code"] == "payload_too_large"


@pytest.mark.parametrize("path", ["/me", "/workouts/1", "/llm/create-workout", "/healthz"])
def test_options_answers_204_with_allow_and_no_html(client, path):
    response = client.options(path)
    assert response.status_code == 204
    assert "OPTIONS" in response.headers["Allow"]
    assert response.mimetype != "text/html"
    assert response.data == b""


def test_a_query_parameter_given_twice_is_400_naming_it(client, auth):
    _, headers = auth.user()
    error = _error(client.get("/llm-logs/my-logs?limit=1&limit=999", headers=headers), 400)
    assert "limit" in error["details"]["fields"]
    error = _error(client.get("/workouts?offset=0&offset=5", headers=headers), 400)
    assert "offset" in error["details"]["fields"]


def test_a_query_parameter_given_twice_without_a_token_is_still_401(client):
    _error(client.get("/llm-logs/my-logs?limit=1&limit=999"), 401)
