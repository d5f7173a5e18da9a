"""Prompt templates are versioned (SPEC section 15): a change of wording is a new version, and
the rows of a call name the template and version that built its messages."""

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sqlalchemy import select

from tests.llm_server import VALID_WORKOUT
from tests.test_operations import PLAN, log_rows, poll, submit
from webapp.extensions import db
from webapp.llm import prompts
from webapp.models import Job, LlmCallLog, Workout, WorkoutRevision
from webapp.services import jobs, llm_operations

REGISTRY = Path(__file__).with_name("prompt_versions.json")


def test_each_template_text_is_recorded_under_its_current_version():
    """Fails when a template's text changed and its version did not: give the template a new
    version and record its hash in tests/prompt_versions.json beside the old ones."""
    registry = json.loads(REGISTRY.read_text())
    for template in prompts.TEMPLATES:
        versions = registry.get(template.name, {})
        recorded = versions.get(str(template.version))
        assert recorded is not None, (
            f"prompt {template.name!r} v{template.version} is not in {REGISTRY.name}")
        assert recorded == template.sha256(), (
            f"prompt {template.name!r} changed but is still version {template.version}: "
            f"bump its version and record {template.sha256()} under the new one")
        assert template.version == max(int(v) for v in versions), (
            f"prompt {template.name!r} is behind a version already recorded")


def test_template_names_are_unique_and_fit_the_log_column():
    names = [template.name for template in prompts.TEMPLATES]
    assert len(set(names)) == len(names)
    assert all(0 < len(name) <= 64 for name in names)


def test_a_change_of_wording_changes_the_hash():
    from dataclasses import replace

    reworded = replace(prompts.WORKOUT, instructions=prompts.WORKOUT.instructions + " Be brief.")
    assert reworded.sha256() != prompts.WORKOUT.sha256()


def test_worker_rows_carry_the_prompt_that_built_their_messages(
        app, client, auth, llm, celery_worker):
    _, headers = auth.user()
    poll(client, headers, submit(client, headers).get_json()["job_id"])
    poll(client, headers, submit(client, headers, "/llm/create-training-principles", PLAN)
         .get_json()["job_id"])
    rows = log_rows(app, 2)
    assert [(r.llm_operation_type, r.prompt_name, r.prompt_version) for r in rows] == [
        ("workout_creation", "workout", prompts.WORKOUT.version),
        ("training_principles_creation", "training_principles",
         prompts.TRAINING_PRINCIPLES.version),
    ]


def test_a_failed_attempt_still_names_its_prompt(app, client, auth, llm, celery_worker):
    _, headers = auth.user()
    llm.then_content({"title": "no exercises"})  # does not fit the schema
    job = poll(client, headers, submit(client, headers).get_json()["job_id"])
    assert job["status"] == "failed"
    [row] = log_rows(app, 1)
    assert (row.success, row.prompt_name, row.prompt_version) == (
        False, "workout", prompts.WORKOUT.version)


def test_an_accept_row_carries_the_model_and_prompt_of_the_revision_it_applies(
        app, client, auth, llm, celery_worker):
    _, headers = auth.user()
    workout_id = poll(client, headers, submit(client, headers).get_json()["job_id"])[
        "result"]["workout_id"]
    llm.then_content({**VALID_WORKOUT, "title": "Shorter"}, model="gpt-4.1-mini-2025-04-14")
    response = client.post(f"/workouts/{workout_id}/revise", json={"feedback": "shorter"},
                           headers=headers)
    revision_id = poll(client, headers, response.get_json()["job_id"])["result"]["revision_id"]
    assert client.post(f"/workouts/{workout_id}/revise/accept", headers=headers).status_code == 200
    create_row, revise_row, accept_row = log_rows(app, 3)
    assert (revise_row.model, revise_row.prompt_name, revise_row.prompt_version) == (
        "gpt-4.1-mini-2025-04-14", "workout_revision", prompts.WORKOUT_REVISION.version)
    assert (accept_row.model, accept_row.prompt_name, accept_row.prompt_version) == (
        revise_row.model, revise_row.prompt_name, revise_row.prompt_version)
    assert accept_row.job_id is None and accept_row.prompt_tokens is None
    with app.app_context():
        revision = db.session.scalar(select(WorkoutRevision).where(WorkoutRevision.id == revision_id))
        assert (revision.model, revision.prompt_name, revision.prompt_version) == (
            "gpt-4.1-mini-2025-04-14", "workout_revision", prompts.WORKOUT_REVISION.version)


def _stored_job(user_id, operation_type, payload, **fields):
    job = Job(id=uuid.uuid4(), user_id=user_id, operation_type=operation_type, status="queued",
              payload=payload, request_meta={},
              enqueued_at=datetime.now(timezone.utc) - timedelta(minutes=5),
              **{"attempts": 0, **fields})
    db.session.add(job)
    db.session.commit()
    return job.id


def _job_rows(job_id):
    db.session.expire_all()
    return db.session.scalars(select(LlmCallLog).where(LlmCallLog.job_id == job_id)
                              .order_by(LlmCallLog.attempt)).all()


def test_an_attempt_that_fails_before_asking_the_llm_still_names_its_prompt(app_ctx, auth):
    """A revise whose workout is gone by the time the worker runs it: the failed row is still
    the revision prompt's."""
    user_id, _ = auth.user()
    job_id = _stored_job(user_id, "workout_revision", {"workout_id": 999_999, "feedback": "less"})
    llm_operations.run_job(job_id)
    [row] = _job_rows(job_id)
    assert (row.success, row.http_status_code) == (False, 404)
    assert (row.prompt_name, row.prompt_version) == (
        "workout_revision", prompts.WORKOUT_REVISION.version)


@pytest.mark.parametrize("operation_type, payload, template", [
    ("workout_creation", {"prompt": "legs"}, prompts.WORKOUT),
    ("workout_revision", {"workout_id": 1, "feedback": "less"}, prompts.WORKOUT_REVISION),
    ("training_principles_creation", dict(PLAN), prompts.TRAINING_PRINCIPLES),
])
def test_a_worker_lost_row_names_the_prompt_of_its_operation(
        app_ctx, auth, operation_type, payload, template):
    user_id, _ = auth.user()
    job_id = _stored_job(user_id, operation_type, payload, attempts=jobs.MAX_RUNS, llm_attempts=1,
                         attempt_started_at=datetime.now(timezone.utc) - timedelta(minutes=3))
    assert jobs.claim(job_id) is None  # started too often: failed, its lost attempt logged
    [row] = _job_rows(job_id)
    assert row.error_type == "WorkerLost"
    assert (row.prompt_name, row.prompt_version) == (template.name, template.version)


@pytest.mark.parametrize("status", ["superseded", "accepted"])
def test_a_refused_accept_of_a_decided_revision_still_names_the_revisions_model_and_prompt(
        app, client, auth, status):
    user_id, headers = auth.user()
    with app.app_context():
        workout = Workout(user_id=user_id)
        workout.apply(VALID_WORKOUT)
        db.session.add(workout)
        db.session.flush()
        revision = WorkoutRevision(
            workout_id=workout.id, user_id=user_id, base_version=1, feedback="shorter",
            revised={**VALID_WORKOUT, "title": "Shorter"}, status=status,
            model="gpt-4.1-mini-2025-04-14", prompt_name="workout_revision", prompt_version=1)
        db.session.add(revision)
        db.session.commit()
        workout_id, revision_id = workout.id, revision.id
    response = client.post(f"/workouts/{workout_id}/revise/accept",
                           json={"revision_id": revision_id}, headers=headers)
    assert response.status_code == 409
    [row] = log_rows(app, 1)
    assert (row.success, row.http_status_code, row.request_data["revision_id"]) == (
        False, 409, revision_id)
    assert (row.model, row.prompt_name, row.prompt_version) == (
        "gpt-4.1-mini-2025-04-14", "workout_revision", 1)
    assert "Shorter" in row.request_data["revised_workout"]
