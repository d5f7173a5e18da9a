"""A submit is either refused or will run (SPEC 11): nothing after the job's commit fails it."""

import logging

import kombu.exceptions
from sqlalchemy import event, select

from webapp.extensions import db
from webapp.models import Job


def test_a_broker_failure_after_the_commit_is_still_the_202_with_one_log_line(
        app, client, auth, monkeypatch, caplog):
    _, headers = auth.user()
    celery = app.extensions["celery"]

    def broker_down(*args, **kwargs):
        raise kombu.exceptions.OperationalError("Error 111 connecting to redis:6379")

    monkeypatch.setattr(celery, "send_task", broker_down)
    with caplog.at_level(logging.WARNING):
        response = client.post("/llm/create-workout", json={"prompt": "legs"}, headers=headers)
    assert response.status_code == 202
    job_id = response.get_json()["job_id"]
    with app.app_context():
        assert db.session.scalar(select(Job.status).where(Job.id == job_id)) == "queued"
    [record] = [r for r in caplog.records if "enqueue" in r.getMessage()]
    assert record.exc_info is None and "sweeper" in record.getMessage()


def test_nothing_after_the_jobs_commit_touches_the_database(app, client, auth):
    """So a PostgreSQL blip right after the commit cannot turn the 202 into an error."""
    _, headers = auth.user()
    after_commit = []
    committed = []

    def on_commit(session):
        committed.append(True)

    def on_execute(conn, cursor, statement, *args):
        if committed:
            after_commit.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(db.session, "after_commit", on_commit)
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        response = client.post("/llm/create-workout", json={"prompt": "legs"}, headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(db.session, "after_commit", on_commit)
    assert response.status_code == 202
    assert committed and after_commit == []
