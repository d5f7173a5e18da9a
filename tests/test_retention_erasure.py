"""Retention (old rows removed, whole months dropped) and erasure of one user; the rollups
stay equal to plain SQL over the rows through both."""

import os
import subprocess
import sys
import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import BigInteger, Numeric, text

from config import retention_days
from scripts.services import ROOT
from tests.log_factories import LlmCallLogFactory
from tests.test_log_rollups import NOW, _insert, _rows, assert_all_match
from tests.test_operations import PLAN, poll, submit
from webapp.extensions import db
from webapp.models import log_rollup
from webapp.services import log_partitions, log_retention, log_rollups


def _plain(value):
    """Text of a value, a number without its scale (0.000000 is 0)."""
    return str(value.normalize() if isinstance(value, Decimal) else value)


def rollup_rows():
    """Every rollup row that counts something, as plain tuples, sorted."""
    db.session.rollback()
    found = {}
    for table in log_rollup.TABLES:
        query = f"SELECT * FROM {table.name} WHERE calls <> 0"
        if "shard" in table.c:  # shards spread concurrent writers; add them up
            sums = [c.name for c in table.c if isinstance(c.type, (BigInteger, Numeric))]
            keys = [c.name for c in table.c if c.name not in sums and c.name != "shard"]
            query = (f"SELECT {', '.join(keys)}, {', '.join(f'sum({c})' for c in sums)}"
                     f" FROM {table.name} GROUP BY {', '.join(keys)} HAVING sum(calls) <> 0")
        found[table.name] = sorted(tuple(_plain(v) for v in row) for row in db.session.execute(
            text(query)))
    return found


def assert_rollups_exact():
    """The rollups as the triggers left them equal a recount from the rows."""
    kept = rollup_rows()
    log_rollups.rebuild()
    assert rollup_rows() == kept


@pytest.fixture
def old_rows(app_ctx):
    """1500 rows over the last 120 days; the months before the last two have partitions."""
    log_partitions.ensure_months((NOW - timedelta(days=130)).date(),
                                 (NOW - timedelta(days=60)).date(), wait=True)
    _insert(_rows(1500, seed=3, spread_hours=24 * 120))


def test_purge_removes_rows_past_retention_and_drops_whole_past_months(old_rows):
    cutoff = NOW - timedelta(days=30)
    [[old]] = db.session.execute(text('SELECT count(*) FROM llm_call_logs WHERE "timestamp" < :c'),
                                 {"c": cutoff}).all()
    [[total]] = db.session.execute(text("SELECT count(*) FROM llm_call_logs")).all()
    partitions_before = set(log_partitions.partition_names())
    db.session.rollback()

    purged = log_retention.purge(30, now=NOW, batch=100)

    assert purged.rows == old > 0
    assert purged.partitions >= 2
    assert len(set(log_partitions.partition_names())) == len(partitions_before) - purged.partitions
    [[left_old]] = db.session.execute(
        text('SELECT count(*) FROM llm_call_logs WHERE "timestamp" < :c'), {"c": cutoff}).all()
    [[left]] = db.session.execute(text("SELECT count(*) FROM llm_call_logs")).all()
    assert left_old == 0 and left == total - old
    assert_all_match()
    assert_rollups_exact()


def test_a_second_purge_removes_nothing(old_rows):
    log_retention.purge(30, now=NOW)
    assert log_retention.purge(30, now=NOW).rows == 0


def test_flask_logs_purge_prints_the_rows_removed_last(app, runner, old_rows):
    app.config["LOG_RETENTION_DAYS"] = 60
    try:
        result = runner.invoke(args=["logs", "purge"])
    finally:
        app.config["LOG_RETENTION_DAYS"] = None
    assert result.exit_code == 0, result.output
    assert int(result.stdout.strip().splitlines()[-1]) > 0


def test_flask_logs_purge_without_retention_removes_nothing_and_says_why(runner, old_rows):
    result = runner.invoke(args=["logs", "purge"])
    assert result.exit_code == 0
    assert result.stdout.strip().splitlines()[-1] == "0"
    assert "LOG_RETENTION_DAYS" in result.stderr
    [[total]] = db.session.execute(text("SELECT count(*) FROM llm_call_logs")).all()
    assert total == 1500


@pytest.mark.parametrize("value", ["-1", "-30", "30.5", "thirty", "\u0663\u0660"])
def test_a_log_retention_days_that_is_no_number_of_days_stops_the_start_with_one_line(value):
    """A negative value would put the cutoff in the future: every row would go."""
    env = {**os.environ, "LOG_RETENTION_DAYS": value}
    done = subprocess.run([sys.executable, "-c", "import config"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "LOG_RETENTION_DAYS" in lines[0], done.stderr


@pytest.mark.parametrize("value, days", [("", None), ("0", None), ("30", 30), (" 7 ", 7)])
def test_log_retention_days_unset_or_0_keeps_everything(value, days):
    assert retention_days(value) == days


@pytest.fixture
def victim(app, client, auth, llm, celery_worker):
    """A user with a workout, a revision, a plan and their log rows (through the API), two
    tokens and old rows; and an admin and a bystander with rows of their own."""
    user_id, headers = auth.user()
    _, admin = auth.admin()
    bystander, _ = auth.user()
    job = poll(client, headers, submit(client, headers).get_json()["job_id"])
    workout_id = job["result"]["workout_id"]
    poll(client, headers, submit(client, headers, path=f"/workouts/{workout_id}/revise",
                                 body={"feedback": "no lunges"}).get_json()["job_id"])
    poll(client, headers, submit(client, headers, path="/llm/create-training-principles",
                                 body=PLAN).get_json()["job_id"])
    with app.app_context():
        for days in (1, 3, 40):
            LlmCallLogFactory(user_id=str(user_id), timestamp=NOW - timedelta(days=days))
        LlmCallLogFactory(user_id=str(bystander))
    return {"id": str(user_id), "headers": headers, "admin": admin, "bystander": str(bystander)}


def test_erasing_a_user_removes_everything_of_theirs_and_answers_the_counts(
        app, client, victim):
    response = client.delete(f"/admin/users/{victim['id']}", headers=victim["admin"])
    assert response.status_code == 200, response.get_json()
    counts = response.get_json()
    assert counts == {"user_id": victim["id"], "log_rows": 6, "jobs": 3, "workouts": 1,
                      "training_plans": 1, "revisions": 1, "tokens": 1}
    assert client.get("/me", headers=victim["headers"]).status_code == 401
    listing = client.get(f"/llm-logs/?user_id={victim['id']}", headers=victim["admin"]).get_json()
    assert listing["total"] == 0 and listing["items"] == []
    for path in ("/llm-logs/stats/top-users?days=365", "/llm-logs/?limit=500",
                 "/llm-logs/export?format=jsonl"):
        answer = client.get(path, headers=victim["admin"]).get_data(as_text=True)
        assert victim["id"] not in answer and victim["bystander"] in answer
    with app.app_context():
        for table in log_rollup.TABLES:
            if "user_id" in table.c:
                assert not db.session.execute(text(f"SELECT 1 FROM {table} WHERE user_id = :u"),
                                              {"u": victim["id"]}).all(), table
        assert_rollups_exact()
    assert client.delete(f"/admin/users/{victim['id']}", headers=victim["admin"]).status_code == 404


def test_flask_users_erase_removes_the_user(app, runner, victim):
    from webapp.models import User

    with app.app_context():
        email = db.session.get(User, uuid.UUID(victim["id"])).email
    result = runner.invoke(args=["users", "erase", email])
    assert result.exit_code == 0, result.output
    assert "6 log rows" in result.stdout
    assert runner.invoke(args=["users", "erase", email]).exit_code != 0


def _answers_name(client, admin, user_id):
    """The admin answers that name `user_id`, of those that list users' rows."""
    paths = ("/llm-logs/stats/top-users?days=365", "/llm-logs/?limit=500",
             "/llm-logs/export?format=jsonl", f"/llm-logs/?user_id={user_id}")
    return [path for path in paths if user_id in client.get(path, headers=admin).get_data(as_text=True)]


def test_a_call_in_flight_when_its_user_is_erased_leaves_no_row_behind(
        app, client, auth, llm, celery_worker):
    from celery.signals import task_postrun

    user_id, headers = auth.user()
    _, admin = auth.admin()
    llm.then(delay_s=1.5)  # the call is still out when the user is erased
    job_id = submit(client, headers).get_json()["job_id"]
    ended = threading.Event()

    def on_task_end(args=None, **_):
        if args and str(args[0]) == job_id:
            ended.set()

    task_postrun.connect(on_task_end, weak=False)
    try:
        llm.wait_for_requests(1)
        assert client.delete(f"/admin/users/{user_id}", headers=admin).status_code == 200
        assert ended.wait(20), "the worker did not end the job's task"
    finally:
        task_postrun.disconnect(on_task_end)
    assert _answers_name(client, admin, str(user_id)) == []
    with app.app_context():
        assert db.session.scalar(text("SELECT count(*) FROM llm_call_logs WHERE user_id = :u"),
                                 {"u": str(user_id)}) == 0


def test_rows_that_arrive_for_an_erased_user_are_dropped_however_they_come(
        app, client, auth, victim):
    from webapp.services import log_spool
    from webapp.services.llm_logging_service import log_workout_creation

    assert client.delete(f"/admin/users/{victim['id']}", headers=victim["admin"]).status_code == 200
    row = {"user_id": victim["id"], "endpoint_name": "llm/create-workout", "method": "POST",
           "timestamp": str(NOW), "success": True}
    with app.app_context():
        for user_id in (victim["id"], victim["bystander"]):  # a spooled row of each, drained
            log_spool.spool({**row, "user_id": user_id, "call_id": str(uuid.uuid4())})
        assert log_spool.drain() == 2
        with log_workout_creation(uuid.UUID(victim["id"]), {"prompt": "legs"}):
            pass
        db.session.execute(text(  # an INSERT from outside
            "INSERT INTO llm_call_logs (user_id, endpoint_name, method, \"timestamp\", success)"
            " VALUES (:u, 'llm/create-workout', 'POST', now(), true)"), {"u": victim["id"]})
        db.session.commit()
        assert db.session.scalar(text("SELECT count(*) FROM llm_call_logs WHERE user_id = :u"),
                                 {"u": victim["id"]}) == 0
        assert_rollups_exact()
    assert _answers_name(client, victim["admin"], victim["id"]) == []
    assert victim["bystander"] in client.get("/llm-logs/?limit=500",
                                             headers=victim["admin"]).get_data(as_text=True)


def test_a_row_being_inserted_as_the_user_is_erased_is_erased_too(app, client, victim):
    """A row whose insert began before the erasure, and commits while it runs, does not stay."""
    from sqlalchemy import create_engine

    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with other.connect() as conn:
            conn.execute(text(
                "INSERT INTO llm_call_logs (user_id, endpoint_name, method, \"timestamp\", success)"
                " VALUES (:u, 'llm/create-workout', 'POST', now(), true)"), {"u": victim["id"]})
            erasing = threading.Thread(target=lambda: answers.append(app.test_client().delete(
                f"/admin/users/{victim['id']}", headers=victim["admin"])))
            answers = []
            erasing.start()
            erasing.join(1.0)  # the erasure waits for the insert in progress
            assert erasing.is_alive()
            conn.commit()
        erasing.join(30)
        assert answers and answers[0].status_code == 200
        assert answers[0].get_json()["log_rows"] == 7
    finally:
        other.dispose()
    with app.app_context():
        assert db.session.scalar(text("SELECT count(*) FROM llm_call_logs WHERE user_id = :u"),
                                 {"u": victim["id"]}) == 0


@pytest.mark.parametrize("user_id", ["not-a-uuid", str(uuid.uuid4()).upper(), "1"])
def test_a_malformed_user_id_is_a_400(client, auth, user_id):
    _, admin = auth.admin()
    response = client.delete(f"/admin/users/{user_id}", headers=admin)
    assert response.status_code == 400
    assert "user_id" in response.get_json()["error"]["details"]["fields"]


def test_an_unknown_user_is_a_404_and_the_route_is_for_admins(client, auth):
    _, admin = auth.admin()
    _, user = auth.user()
    assert client.delete(f"/admin/users/{uuid.uuid4()}", headers=admin).status_code == 404
    assert client.delete(f"/admin/users/{uuid.uuid4()}", headers=user).status_code == 403
    assert client.delete(f"/admin/users/{uuid.uuid4()}").status_code == 401


@pytest.mark.usefixtures("celery_worker")
def test_a_finished_job_keeps_no_hash_of_health_notes_and_its_key_still_works(
        app, client, auth, llm):
    import hashlib
    import json

    from webapp.models import Job

    _, headers = auth.user()
    key = {"Idempotency-Key": "plan-privacy-1"}
    body = {**PLAN, "health_notes": "old knee injury"}
    first = submit(client, headers, path="/llm/create-training-principles", body=body,
                   extra_headers=key).get_json()
    assert poll(client, headers, first["job_id"])["status"] == "succeeded"
    with app.app_context():
        kept = db.session.get(Job, uuid.UUID(first["job_id"])).request_fingerprint
    full = hashlib.sha256(json.dumps(["training_principles_creation", body], sort_keys=True,
                                     ensure_ascii=False).encode()).hexdigest()
    assert kept and kept not in full and full[:32] not in kept
    # The same request again is the same job; another plan under the key is a 409.
    again = submit(client, headers, path="/llm/create-training-principles", body=body,
                   extra_headers=key).get_json()
    assert again["job_id"] == first["job_id"]
    other = client.post("/llm/create-training-principles", json={**PLAN, "weeks": 9},
                        headers={**headers, **key})
    assert other.status_code == 409


def test_a_running_job_still_tells_other_health_notes_apart(app, client, auth):
    _, headers = auth.user()
    key = {"Idempotency-Key": "plan-privacy-2"}
    submit(client, headers, path="/llm/create-training-principles",
           body={**PLAN, "health_notes": "a"}, extra_headers=key)
    other = client.post("/llm/create-training-principles", json={**PLAN, "health_notes": "b"},
                        headers={**headers, **key})
    assert other.status_code == 409


def test_the_workers_sweeper_applies_the_retention(app, old_rows):
    import time

    from tasks.sweeper import start_sweeper

    app.config["LOG_RETENTION_DAYS"] = 30
    stop = start_sweeper(app)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            db.session.rollback()
            [[old]] = db.session.execute(text(
                "SELECT count(*) FROM llm_call_logs WHERE \"timestamp\" < now() - interval '31 days'"
            )).all()
            if old == 0:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        app.config["LOG_RETENTION_DAYS"] = None
    assert old == 0
    assert_all_match()
