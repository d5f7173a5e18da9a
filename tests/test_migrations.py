"""The migrations build exactly the models' schema, and the seed's SQL runs on it."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from tests.seed_queries import SEED_ENDPOINT_LATENCY, SEED_ERROR_RATES, SEED_TOP_USERS
from webapp.extensions import db
from webapp.models.llm_call_log import include_in_schema_compare

def test_models_and_migrations_agree(app_ctx):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_name": include_in_schema_compare}
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_seed_indexes_exist_under_their_names(app_ctx):
    indexes = {ix["name"]: ix for ix in inspect(db.engine).get_indexes("llm_call_logs")}
    assert indexes["idx_llm_logs_user_timestamp"]["column_names"] == ["user_id", "timestamp"]
    assert indexes["idx_llm_logs_user_timestamp"]["column_sorting"] == {"timestamp": ("desc",)}
    assert indexes["idx_llm_logs_endpoint"]["column_names"] == ["endpoint_name"]
    assert indexes["idx_llm_logs_operation_type"]["column_names"] == ["llm_operation_type"]


def _insert_log(conn, user_id, endpoint, operation, success, duration_ms):
    conn.execute(
        text(
            "INSERT INTO llm_call_logs (user_id, endpoint_name, method, timestamp, duration_ms,"
            " success, llm_operation_type) VALUES (:u, :e, 'POST', now(), :d, :s, :o)"
        ),
        {"u": user_id, "e": endpoint, "o": operation, "s": success, "d": duration_ms},
    )


def test_seed_example_queries_run_unchanged(app_ctx):
    with db.engine.begin() as conn:
        _insert_log(conn, "u1", "llm/create-workout", "workout_creation", True, 100)
        _insert_log(conn, "u1", "llm/create-workout", "workout_creation", False, 300)
        _insert_log(conn, "u2", "workouts/{workout_id}/revise", "workout_revision", True, 50)
    with db.engine.connect() as conn:
        top_users = conn.execute(text(SEED_TOP_USERS)).all()
        latency = conn.execute(text(SEED_ENDPOINT_LATENCY)).all()
        error_rates = conn.execute(text(SEED_ERROR_RATES)).all()
    assert [tuple(r) for r in top_users] == [("u1", 2), ("u2", 1)]
    assert [(r.endpoint_name, float(r.avg_duration_ms)) for r in latency] == [
        ("llm/create-workout", 200.0),
        ("workouts/{workout_id}/revise", 50.0),
    ]
    assert [(r.llm_operation_type, r.total_calls, r.failed_calls, float(r.error_rate))
            for r in error_rates] == [
        ("workout_creation", 2, 1, 50.0),
        ("workout_revision", 1, 0, 0.0),
    ]
