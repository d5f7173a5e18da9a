"""A workout's and a plan's LLM usage over their life (SPEC section 5): creation, revisions and
accepts, the owner's calls only."""

import pytest

from tests.log_factories import LlmCallLogFactory
from tests.test_operations import PLAN, log_rows, poll, submit

pytestmark = pytest.mark.usefixtures("celery_worker")


def _usage(client, headers, path):
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["llm_usage"]


def test_a_workout_counts_its_creation_revisions_and_accepts(app, client, auth, llm):
    _, headers = auth.user()
    workout_id = poll(client, headers, submit(client, headers).get_json()["job_id"])[
        "result"]["workout_id"]
    assert _usage(client, headers, f"/workouts/{workout_id}") == {
        "calls": 1, "total_tokens": 200, "total_cost_usd": 0.000066}

    response = client.post(f"/workouts/{workout_id}/revise", json={"feedback": "shorter"},
                           headers=headers)
    poll(client, headers, response.get_json()["job_id"])
    accepted = client.post(f"/workouts/{workout_id}/revise/accept", headers=headers)
    assert accepted.status_code == 200
    log_rows(app, 3)
    expected = {"calls": 3, "total_tokens": 400, "total_cost_usd": 0.000132}
    assert accepted.get_json()["llm_usage"] == expected
    assert _usage(client, headers, f"/workouts/{workout_id}") == expected
    [item] = client.get("/workouts", headers=headers).get_json()["items"]
    assert item["llm_usage"] == expected


def test_a_failed_revision_counts_with_what_it_cost(app, client, auth, llm):
    _, headers = auth.user()
    workout_id = poll(client, headers, submit(client, headers).get_json()["job_id"])[
        "result"]["workout_id"]
    llm.then_content({"title": "not a workout"})
    response = client.post(f"/workouts/{workout_id}/revise", json={"feedback": "shorter"},
                           headers=headers)
    assert poll(client, headers, response.get_json()["job_id"])["status"] == "failed"
    log_rows(app, 2)
    assert _usage(client, headers, f"/workouts/{workout_id}") == {
        "calls": 2, "total_tokens": 400, "total_cost_usd": 0.000132}


def test_another_users_calls_naming_the_same_workout_do_not_count(app, client, auth, llm,
                                                                   app_ctx):
    _, headers = auth.user()
    workout_id = poll(client, headers, submit(client, headers).get_json()["job_id"])[
        "result"]["workout_id"]
    LlmCallLogFactory(user_id="someone-else", workout_id=workout_id, total_tokens=999)
    log_rows(app, 2)
    assert _usage(client, headers, f"/workouts/{workout_id}")["calls"] == 1
    _, stranger = auth.user()
    assert client.get(f"/workouts/{workout_id}", headers=stranger).status_code == 404


def test_a_training_plan_counts_its_creation(app, client, auth, llm):
    _, headers = auth.user()
    job = poll(client, headers, submit(client, headers, "/llm/create-training-principles", PLAN)
               .get_json()["job_id"])
    plan_id = job["result"]["training_plan_id"]
    log_rows(app, 1)
    assert _usage(client, headers, f"/training-plans/{plan_id}") == {
        "calls": 1, "total_tokens": 200, "total_cost_usd": 0.000066}


def test_a_workout_without_logged_calls_has_zero_usage(client, auth, app):
    from webapp.extensions import db
    from webapp.models import Workout
    from tests.llm_server import VALID_WORKOUT

    user_id, headers = auth.user()
    with app.app_context():
        workout = Workout(user_id=user_id)
        workout.apply(VALID_WORKOUT)
        db.session.add(workout)
        db.session.commit()
        workout_id = workout.id
    assert _usage(client, headers, f"/workouts/{workout_id}") == {
        "calls": 0, "total_tokens": 0, "total_cost_usd": 0.0}


def test_the_openapi_document_describes_llm_usage(client):
    spec = client.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    for name in ("WorkoutOut", "WorkoutItemOut", "TrainingPlanOut"):
        assert "llm_usage" in schemas[name]["required"], name
    assert set(schemas["LlmUsageOut"]["properties"]) == {"calls", "total_tokens", "total_cost_usd"}
