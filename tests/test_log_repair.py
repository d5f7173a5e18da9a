"""A row the database would refuse for its content is stored with the field fixed, and counted."""

import pytest
from sqlalchemy import select

from tests.test_operations import poll, submit
from webapp.extensions import db
from webapp.models import LlmCallLog
from webapp.services import log_repair


@pytest.mark.usefixtures("celery_worker")
def test_an_upstream_model_name_longer_than_its_column_is_cut_and_the_job_still_succeeds(
        app, client, auth, llm, monkeypatch):
    monkeypatch.setattr(llm, "model", "gpt-4o-mini-" + "x" * 300)
    before = log_repair.repaired_counts().get("model", 0)
    _, headers = auth.user()
    job = poll(client, headers, submit(client, headers).get_json()["job_id"])
    assert job["status"] == "succeeded"
    with app.app_context():
        [row] = db.session.scalars(select(LlmCallLog)).all()
    assert row.success and row.model == ("gpt-4o-mini-" + "x" * 300)[:128]
    assert row.workout_id == job["result"]["workout_id"]
    assert log_repair.repaired_counts()["model"] == before + 1


def test_fit_cuts_nulls_and_replaces_what_a_column_cannot_hold():
    row = {"model": "m" * 200, "workout_id": 2**40, "response_summary": "a\x00b",
           "request_data": {"x": float("nan")}, "user_id": "u"}
    fitted = log_repair.fit(row)
    assert fitted == {"model": "m" * 128, "workout_id": None, "response_summary": "a\ufffdb",
                      "request_data": None, "user_id": "u"}
