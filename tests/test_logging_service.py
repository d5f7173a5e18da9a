"""The logging service writes one row per call, whatever happens to the call."""

import json
import logging
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, select
from werkzeug.exceptions import Conflict

from webapp.extensions import db
from webapp.models import LlmCallLog, User
from webapp.services import log_spool
from webapp.services.llm_logging_service import (
    LlmCallLogger,
    log_training_principles_creation,
    log_workout_creation,
    log_workout_revision,
    log_workout_revision_accept,
)

USER_ID = str(uuid.uuid4())
JOB_ID = uuid.uuid4()
WORKER_META = {"method": "POST", "user_agent": "curl/8.5", "ip_address": "203.0.113.7"}


def _rows():
    db.session.expire_all()
    return db.session.scalars(select(LlmCallLog).order_by(LlmCallLog.id)).all()


def test_a_block_that_logs_success_writes_one_success_row_with_its_duration(app_ctx):
    with log_workout_creation(USER_ID, request_data={"prompt": "legs"},
                              request_meta=WORKER_META) as call_logger:
        call_logger.log_success(response_summary="Created workout 3", workout_id=3,
                                model="gpt-4o-mini", prompt_tokens=10, completion_tokens=5,
                                total_tokens=15)
    [row] = _rows()
    assert row.success is True
    assert row.http_status_code == 200
    assert row.duration_ms is not None and row.duration_ms >= 0
    assert row.user_id == USER_ID
    assert row.endpoint_name == "llm/create-workout"
    assert row.llm_operation_type == "workout_creation"
    assert row.request_data == {"prompt": "legs"}
    assert row.response_summary == "Created workout 3"
    assert (row.workout_id, row.model, row.total_tokens) == (3, "gpt-4o-mini", 15)
    assert (row.method, row.user_agent, row.ip_address) == ("POST", "curl/8.5", "203.0.113.7")
    assert row.timestamp.utcoffset().total_seconds() == 0


def test_an_exception_is_logged_as_an_error_row_and_re_raised(app_ctx):
    with pytest.raises(ValueError, match="model said no"):
        with log_workout_creation(USER_ID, request_data={"prompt": "x"}):
            raise ValueError("model said no")
    [row] = _rows()
    assert row.success is False
    assert row.error_type == "ValueError"
    assert row.error_message == "model said no"
    assert row.http_status_code == 500
    assert row.response_summary is None


def test_an_http_exception_is_logged_with_its_own_status(app_ctx):
    with pytest.raises(Conflict):
        with log_workout_revision_accept(USER_ID, request_data={"workout_id": 1}, workout_id=1):
            raise Conflict("stale revision")
    [row] = _rows()
    assert (row.success, row.http_status_code, row.error_type) == (False, 409, "Conflict")
    assert row.workout_id == 1
    assert row.endpoint_name == "workouts/{workout_id}/revise/accept"


def test_a_block_without_an_outcome_is_logged_as_a_success(app_ctx):
    with log_training_principles_creation(USER_ID, request_data={"name": "Plan"}):
        pass
    [row] = _rows()
    assert row.success is True
    assert row.response_summary  # never empty on success
    assert row.llm_operation_type == "training_principles_creation"


@pytest.mark.parametrize("summary", ["", "   ", "\n\t"])
def test_a_success_with_a_blank_summary_still_gets_a_readable_one(app_ctx, summary):
    with log_workout_creation(USER_ID) as call_logger:
        call_logger.log_success(response_summary=summary)
    assert _rows()[0].response_summary == "workout_creation succeeded"


def test_a_long_multi_line_summary_becomes_one_line_of_500_characters(app_ctx):
    with log_workout_creation(USER_ID) as call_logger:
        call_logger.log_success(response_summary="Created\nworkout " * 100)
    summary = _rows()[0].response_summary
    assert len(summary) == 500 and "\n" not in summary and summary.startswith("Created workout")


def test_a_call_is_logged_exactly_once(app_ctx):
    with pytest.raises(RuntimeError):
        with log_workout_revision(USER_ID, request_data={"feedback": "f"}) as call_logger:
            call_logger.log_success(response_summary="done")
            call_logger.log_error(RuntimeError("again"))
            raise RuntimeError("after success")
    rows = _rows()
    assert len(rows) == 1
    assert rows[0].success is True


def test_error_messages_are_cut_to_2000_characters(app_ctx):
    with pytest.raises(ValueError):
        with log_workout_creation(USER_ID):
            raise ValueError("x" * 5000)
    assert len(_rows()[0].error_message) == 2000


def test_secrets_in_request_data_are_redacted_at_any_depth(app_ctx):
    data = {"prompt": "p", "Password": "hunter2", "nested": {"api_key": "sk-1", "Authorization": "B"},
            "items": [{"refresh_token": "t"}], "client-secret": "s", "apiKey": "k",
            "max_tokens": 300, "prompt_tokens": 12}
    with log_workout_creation(USER_ID, request_data=data):
        pass
    logged = _rows()[0].request_data
    assert logged == {"prompt": "p", "Password": "[REDACTED]",
                      "nested": {"api_key": "[REDACTED]", "Authorization": "[REDACTED]"},
                      "items": [{"refresh_token": "[REDACTED]"}], "client-secret": "[REDACTED]",
                      "apiKey": "[REDACTED]", "max_tokens": 300, "prompt_tokens": 12}


def test_secret_names_written_as_one_word_are_redacted_and_token_counts_are_not(app_ctx):
    data = {"mypassword": "a", "passwords": ["b"], "secretkey": "c", "accesstoken": "d",
            "APITOKEN": "e", "xapikey": "f", "ProxyAuthorization": "g", "DB_PASSWD": "h",
            "max_tokens": 300, "prompt_tokens": 12, "tokenizer": "cl100k", "prompt": "p"}
    with log_workout_creation(USER_ID, request_data=data):
        pass
    logged = _rows()[0].request_data
    assert {key for key, value in logged.items() if value == "[REDACTED]"} == {
        "mypassword", "passwords", "secretkey", "accesstoken", "APITOKEN", "xapikey",
        "ProxyAuthorization", "DB_PASSWD"}
    assert (logged["max_tokens"], logged["prompt_tokens"], logged["tokenizer"]) == (
        300, 12, "cl100k")


def test_a_plans_health_notes_never_reach_its_log_row(app_ctx):
    with log_training_principles_creation(USER_ID, request_data={
            "name": "Base", "goal": "5k", "health_notes": "knee surgery in May"}):
        pass
    assert _rows()[0].request_data == {"name": "Base", "goal": "5k"}


def test_request_data_over_16_kb_is_cut_with_a_marker(app_ctx):
    with log_workout_creation(USER_ID, request_data={"prompt": "y" * 40_000}):
        pass
    logged = _rows()[0].request_data
    assert logged["_truncated"] is True
    assert logged["_original_size_bytes"] > 40_000
    assert len(json.dumps(logged).encode()) <= 16 * 1024


@pytest.mark.parametrize("text", ['"quoted" \\ ' * 5000, "\x01" * 40_000, "é" * 40_000])
def test_request_data_cut_at_16_kb_stays_within_16_kb_whatever_its_characters(app_ctx, text):
    with log_workout_creation(USER_ID, request_data={"prompt": text}):
        pass
    logged = _rows()[0].request_data
    assert logged["_truncated"] is True
    assert len(json.dumps(logged).encode()) <= 16 * 1024
    assert logged["preview"].startswith('{"prompt": "')


def test_request_data_is_not_logged_when_log_request_data_is_off(app, app_ctx, monkeypatch):
    monkeypatch.setitem(app.config, "LOG_REQUEST_DATA", False)
    with log_workout_creation(USER_ID, request_data={"prompt": "private"}):
        pass
    assert _rows()[0].request_data is None


def test_a_failing_log_write_does_not_break_the_operation_and_the_row_waits_in_redis(
        app_ctx, caplog):
    unreachable = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/nowhere")
    with caplog.at_level(logging.WARNING):
        with log_workout_creation(USER_ID, request_data={"prompt": "p"}, db=unreachable) as cl:
            result = "operation result"
            cl.log_success(response_summary="ok", workout_id=7, cost_usd=Decimal("0.000066"),
                           job_id=JOB_ID)
    assert result == "operation result"
    assert _rows() == []
    assert "spooled it in Redis" in caplog.text

    assert log_spool.drain() == 1
    [row] = _rows()
    assert (row.success, row.workout_id, row.cost_usd, row.job_id) == (
        True, 7, Decimal("0.000066"), JOB_ID)
    assert row.request_data == {"prompt": "p"}
    assert row.timestamp.utcoffset().total_seconds() == 0
    assert log_spool.drain() == 0


def test_a_spooled_row_the_database_would_refuse_is_stored_with_the_field_fixed_and_counted(
        app, app_ctx):
    from webapp.services import log_repair

    good = {"call_id": str(uuid.uuid4()), "user_id": USER_ID, "endpoint_name": "llm/create-workout",
            "method": "POST", "timestamp": "2026-11-30 01:00:00+00:00", "success": True}
    refused = {**good, "call_id": str(uuid.uuid4()), "workout_id": 2**40,  # beyond the column
               "model": "m" * 300, "response_summary": "nul \x00 here"}
    before = log_repair.repaired_counts()
    for row in (refused, good):
        log_spool.spool(row)
    assert log_spool.drain() == 2
    rows = sorted(_rows(), key=lambda r: r.workout_id is None)
    assert len(rows) == 2
    fixed = next(r for r in rows if r.call_id == uuid.UUID(refused["call_id"]))
    assert (fixed.workout_id, len(fixed.model)) == (None, 128)
    after = log_repair.repaired_counts()
    assert after["workout_id"] == before.get("workout_id", 0) + 1
    assert after["model"] == before.get("model", 0) + 1


def test_with_redis_down_too_the_row_waits_in_a_local_file_and_lands_once(
        app, app_ctx, caplog, monkeypatch, tmp_path):
    from webapp.services import log_spool_file

    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    unreachable = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/nowhere")
    with caplog.at_level(logging.WARNING):
        with log_workout_creation(USER_ID, request_data={"prompt": "p"}, db=unreachable):
            pass
    assert "spooled it in the local spool file" in caplog.text
    assert log_spool_file.path().startswith(str(tmp_path))
    assert _rows() == []
    assert log_spool.drain() == 1
    [row] = _rows()
    assert row.request_data == {"prompt": "p"}
    assert log_spool.drain() == 0
    assert len(_rows()) == 1


def test_rows_a_drainer_moved_but_did_not_commit_are_written_by_the_next_drain(app, app_ctx):
    from webapp.services.log_spool import _client, _key

    row = {"call_id": str(uuid.uuid4()), "user_id": USER_ID, "endpoint_name": "llm/create-workout",
           "method": "POST", "timestamp": "2026-11-30 01:00:00+00:00", "success": True}
    client = _client(app.config["REDIS_URL"])
    # A drainer that died after moving the row to its processing list, before its commit.
    client.rpush(_key(":processing"), log_spool.encode(row))
    log_spool.spool(row)  # and the same row spooled again: it still lands once
    assert log_spool.drain() == 2
    assert len(_rows()) == 1
    assert client.llen(_key(":processing")) == 0


def test_rolling_back_the_operation_keeps_its_log_row(app_ctx):
    with log_workout_creation(USER_ID, request_data={"prompt": "p"}) as call_logger:
        db.session.add(User(email="rolled-back@example.com"))
        db.session.flush()
        call_logger.log_success(response_summary="made a user, then rolled back")
        db.session.rollback()
    assert db.session.scalar(select(User).where(User.email == "rolled-back@example.com")) is None
    assert len(_rows()) == 1


def test_request_meta_is_read_from_the_flask_request(app):
    with app.test_request_context("/llm/create-workout", method="POST",
                                  headers={"User-Agent": "pytest-agent"},
                                  environ_base={"REMOTE_ADDR": "198.51.100.4"}):
        call_logger = LlmCallLogger(USER_ID, "llm/create-workout", "workout_creation")
    assert (call_logger.method, call_logger.user_agent, call_logger.ip_address) == (
        "POST", "pytest-agent", "198.51.100.4")


def test_a_user_object_is_logged_by_its_id(app_ctx):
    user = User(id=uuid.uuid4(), email="obj@example.com")
    with log_workout_creation(user):
        pass
    assert _rows()[0].user_id == str(user.id)


@pytest.mark.parametrize(
    ("hops", "expected_ip"),
    [(0, "10.0.0.1"), (1, "198.51.100.9"), (2, "203.0.113.50")],
)
def test_x_forwarded_for_is_honoured_only_for_trusted_hops(config_class, hops, expected_ip):
    from webapp import create_app

    class ProxyConfig(config_class):
        TRUSTED_PROXY_HOPS = hops

    app = create_app(ProxyConfig)
    seen = {}

    @app.get("/probe-ip")
    def probe_ip():
        seen["ip"] = LlmCallLogger(USER_ID, "probe", None).ip_address
        return {}

    app.test_client().get(
        "/probe-ip",
        headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.50, 198.51.100.9"},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
    )
    assert seen["ip"] == expected_ip


@pytest.mark.parametrize("target", ["extension", "session", "engine"])
def test_rows_are_written_with_the_db_passed_in(app_ctx, target):
    given = {"extension": db, "session": db.session, "engine": db.engine}[target]
    with log_workout_creation(USER_ID, request_data={"prompt": "p"}, db=given):
        pass
    assert len(_rows()) == 1


def test_an_http_errors_own_text_is_its_error_message(app_ctx):
    from webapp.errors import NotFound

    with pytest.raises(NotFound):
        with log_workout_revision_accept(USER_ID, workout_id=3):
            raise NotFound("Workout 3 has no pending revision.")
    row = _rows()[0]
    assert (row.error_type, row.error_message, row.http_status_code) == (
        "NotFound", "Workout 3 has no pending revision.", 404)


def test_request_data_that_cannot_be_logged_is_marked_and_the_row_kept(app_ctx, caplog):
    circular = {"prompt": "p"}
    circular["self"] = circular
    with caplog.at_level(logging.ERROR):
        with log_workout_creation(USER_ID, request_data=circular) as call_logger:
            call_logger.log_success(response_summary="ok")
    [row] = _rows()
    assert row.success is True
    assert row.request_data == {"_unloggable": True}
    assert "Could not prepare request_data" in caplog.text


def test_nul_characters_are_replaced_so_the_row_is_stored(app_ctx):
    meta = {"method": "POST", "user_agent": "agent\x00x", "ip_address": "203.0.113.7"}
    with pytest.raises(ValueError):
        with log_workout_creation(USER_ID, request_data={"prompt": "a\x00b", "k\x00": 1},
                                  request_meta=meta):
            raise ValueError("bad \x00 byte")
    [row] = _rows()
    assert row.request_data == {"prompt": "a\ufffdb", "k\ufffd": 1}
    assert (row.user_agent, row.error_message) == ("agent\ufffdx", "bad \ufffd byte")


def test_a_row_without_a_user_agent_is_stored(app_ctx):
    with log_workout_creation(USER_ID, request_meta={"method": "POST"}):
        pass
    assert _rows()[0].user_agent is None
