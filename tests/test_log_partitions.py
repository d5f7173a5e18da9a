"""The log table is partitioned by month: the migration keeps every row, any timestamp fits,
workers make partitions ahead, and windowed reads touch only the partitions they need."""

import re
import uuid
from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from scripts.services import ROOT, admin_url
from webapp.extensions import db
from webapp.services import log_partitions, log_queries, log_summary

MIGRATIONS = str(ROOT / "migrations")
OLD_MONTH = date(2024, 3, 1)


def _insert(conn, when, user_id="u1", **extra):
    columns = {"user_id": user_id, "endpoint_name": "llm/create-workout", "method": "POST",
               "timestamp": when, "duration_ms": 100, "success": True, **extra}
    names = ", ".join(f'"{name}"' for name in columns)
    values = ", ".join(f":{name}" for name in columns)
    conn.execute(text(f"INSERT INTO llm_call_logs ({names}) VALUES ({values})"), columns)


@pytest.fixture
def scratch_app(config_class):
    """An app on a database of its own, for running the migrations from the start."""
    from webapp import create_app

    name = f"llmlog_scratch_{uuid.uuid4().hex[:8]}"
    url = make_url(config_class.SQLALCHEMY_DATABASE_URI)
    with psycopg.connect(admin_url(url.render_as_string(hide_password=False)), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    class ScratchConfig(config_class):
        SQLALCHEMY_DATABASE_URI = url.set(database=name).render_as_string(hide_password=False)

    app = create_app(ScratchConfig)
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()
        with psycopg.connect(admin_url(url.render_as_string(hide_password=False)),
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_migration_moves_every_row_into_the_partitioned_table(scratch_app):
    now = datetime.now(timezone.utc)
    moments = [now - timedelta(days=d) for d in (0, 1, 40, 400, 4000)] + [now + timedelta(days=500)]
    with scratch_app.app_context():
        upgrade(directory=MIGRATIONS, revision="0003")
        with db.engine.begin() as conn:
            for number, moment in enumerate(moments):
                _insert(conn, moment, user_id=f"u{number % 2}", request_data='{"prompt": "legs"}',
                        cost_usd=0.5)
            before = conn.execute(text("SELECT * FROM llm_call_logs ORDER BY id")).mappings().all()
        upgrade(directory=MIGRATIONS, revision="0004")
        with db.engine.begin() as conn:
            after = conn.execute(text("SELECT * FROM llm_call_logs ORDER BY id")).mappings().all()
            assert conn.scalar(text(
                "SELECT relkind FROM pg_class WHERE relname = 'llm_call_logs'")) == "p"
            _insert(conn, now)
            new_id = conn.scalar(text("SELECT max(id) FROM llm_call_logs"))
        assert [{k: v for k, v in row.items() if k != "call_id"} for row in after] == before
        assert len({row["call_id"] for row in after}) == len(after)
        assert new_id == before[-1]["id"] + 1
        upgrade(directory=MIGRATIONS)
        assert log_summary.user_summary("u0", 3650, now=now)["total_calls"] == 2
        db.session.remove()
        # And back: the old layout keeps every row too.
        downgrade(directory=MIGRATIONS, revision="0003")
        with db.engine.begin() as conn:
            assert conn.scalar(text("SELECT count(*) FROM llm_call_logs")) == len(moments) + 1


def test_a_row_with_any_past_timestamp_is_stored(app_ctx):
    with db.engine.begin() as conn:
        _insert(conn, datetime(1999, 12, 31, 23, 59, tzinfo=timezone.utc))
        where = conn.scalar(text("SELECT tableoid::regclass::text FROM llm_call_logs"))
    assert where == "llm_call_logs_default"


def test_a_new_partition_takes_over_its_months_rows_from_the_default_one(app_ctx):
    moment = datetime(OLD_MONTH.year, OLD_MONTH.month, 15, tzinfo=timezone.utc)
    with db.engine.begin() as conn:
        _insert(conn, moment, user_id="u-old")
        _insert(conn, moment + timedelta(days=1), user_id="u-old")
    before = log_summary.user_summary("u-old", 3650)
    db.session.rollback()
    with db.engine.begin() as conn:
        assert conn.scalar(text("SELECT llm_call_logs_ensure_partition(:m)"), {"m": OLD_MONTH})
        placed = conn.execute(text(
            "SELECT tableoid::regclass::text AS part, count(*) AS n FROM llm_call_logs GROUP BY 1")).all()
    assert [tuple(row) for row in placed] == [("llm_call_logs_y2024m03", 2)]
    db.session.rollback()
    assert log_summary.user_summary("u-old", 3650) == before


def test_workers_make_the_coming_months_partitions(app_ctx):
    made = log_partitions.ensure_ahead(months=2, today=date(2031, 11, 20))
    assert made == [date(2031, 11, 1), date(2031, 12, 1), date(2032, 1, 1)]
    assert log_partitions.ensure_ahead(months=2, today=date(2031, 11, 20)) == []
    assert {"llm_call_logs_y2031m11", "llm_call_logs_y2031m12", "llm_call_logs_y2032m01"} <= set(
        log_partitions.partition_names())
    this_month = datetime.now(timezone.utc).strftime("llm_call_logs_y%Ym%m")
    assert this_month in log_partitions.partition_names()


def test_a_call_id_is_stored_once(app_ctx):
    call_id = uuid.uuid4()
    moment = datetime.now(timezone.utc)
    with db.engine.begin() as conn:
        _insert(conn, moment, call_id=call_id)
    with pytest.raises(IntegrityError):
        with db.engine.begin() as conn:
            _insert(conn, moment, call_id=call_id)


def _statements_of(action):
    """Run `action` and return every statement it sent that reads the raw log table."""
    seen = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        if "llm_call_logs" in statement and "FROM llm_call_logs" in statement.replace('"', ""):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        action()
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    return seen


def test_windowed_reads_touch_only_the_partitions_of_their_window(app_ctx):
    with db.engine.begin() as conn:
        conn.execute(text("SELECT llm_call_logs_ensure_partition(:m)"), {"m": OLD_MONTH})
        _insert(conn, datetime(2024, 3, 10, tzinfo=timezone.utc))
        _insert(conn, datetime.now(timezone.utc) - timedelta(minutes=30))
    since = datetime.now(timezone.utc) - timedelta(days=2, minutes=13)
    oldest = since.strftime("llm_call_logs_y%Ym%m")
    reads = {
        "my-logs": lambda: log_queries.list_own_logs("u1", days=2, limit=50),
        "my-summary": lambda: log_summary.user_summary("u1", 2),
        "admin listing": lambda: log_queries.list_all_logs(
            log_queries.LogFilters(since=since), limit=50),
        "admin listing by user": lambda: log_queries.list_all_logs(
            log_queries.LogFilters(user_id="u1", since=since, success=True), limit=50),
    }
    for name, read in reads.items():
        statements = _statements_of(read)
        assert statements, name
        for statement, parameters in statements:
            with db.engine.connect() as conn:
                plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars())
            scanned = set(re.findall(r"llm_call_logs_(?:y\d{4}m\d{2}|default)", plan))
            # Open-ended windows may read the months ahead; nothing before the window.
            assert scanned, (name, plan)
            assert all(part == "llm_call_logs_default" or part >= oldest for part in scanned), (
                name, plan)
