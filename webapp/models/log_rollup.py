"""Rollups of the call log, kept exact by the log table's triggers (migrations 0004, 0011).

Each rollup holds sums per bucket (`grain`: a day, and for everyone's sums also an hour), so
a window is read as whole days, whole hours at its edges and raw rows for the rest
(webapp.services.log_rollups).
They are plain tables, read with Core; nothing but the triggers and
`llm_log_rollups_rebuild()` writes them.
"""

from sqlalchemy import (
    BigInteger, Boolean, Column, DateTime, Integer, Numeric, PrimaryKeyConstraint, SmallInteger,
    String, Table, UniqueConstraint,
)

from webapp.extensions import db


def _sums():
    return [
        Column("calls", BigInteger, nullable=False, server_default="0"),
        Column("duration_count", BigInteger, nullable=False, server_default="0"),
        Column("duration_sum", BigInteger, nullable=False, server_default="0"),
        Column("total_tokens", BigInteger, nullable=False, server_default="0"),
        Column("cost_usd", Numeric, nullable=False, server_default="0"),
    ]


# One user's calls by endpoint, operation, error type and outcome: my-summary, admin totals.
rollup_user = Table(
    "llm_log_rollup_user",
    db.metadata,
    Column("grain", String(4), nullable=False),
    Column("user_id", String(36), nullable=False),
    Column("bucket", DateTime(timezone=True), nullable=False),
    Column("endpoint_name", String(255), nullable=False),
    Column("llm_operation_type", String(64)),
    Column("error_type", String(255)),
    Column("success", Boolean, nullable=False),
    *_sums(),
    UniqueConstraint(
        "grain", "user_id", "bucket", "endpoint_name", "llm_operation_type", "error_type",
        "success", name="uq_llm_log_rollup_user_key", postgresql_nulls_not_distinct=True,
    ),
)

# Calls per user and bucket alone: top-users reads every user of a window.
rollup_user_calls = Table(
    "llm_log_rollup_user_calls",
    db.metadata,
    Column("grain", String(4), nullable=False),
    Column("bucket", DateTime(timezone=True), nullable=False),
    Column("user_id", String(36), nullable=False),
    Column("calls", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("grain", "bucket", "user_id"),
)

# A histogram of one user's durations (llm_duration_bucket): my-summary's percentiles.
rollup_user_durations = Table(
    "llm_log_rollup_user_durations",
    db.metadata,
    Column("grain", String(4), nullable=False),
    Column("user_id", String(36), nullable=False),
    Column("bucket", DateTime(timezone=True), nullable=False),
    Column("duration_bucket", Integer, nullable=False),
    Column("calls", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("grain", "user_id", "bucket", "duration_bucket"),
)

# Everyone's calls by endpoint, operation and outcome, in shards so that concurrent writers
# do not queue on one row: the seed analytics and the unfiltered admin total.
rollup_global = Table(
    "llm_log_rollup_global",
    db.metadata,
    Column("grain", String(4), nullable=False),
    Column("bucket", DateTime(timezone=True), nullable=False),
    Column("shard", SmallInteger, nullable=False),
    Column("endpoint_name", String(255), nullable=False),
    Column("llm_operation_type", String(64)),
    Column("success", Boolean, nullable=False),
    *_sums(),
    UniqueConstraint(
        "grain", "bucket", "shard", "endpoint_name", "llm_operation_type", "success",
        name="uq_llm_log_rollup_global_key", postgresql_nulls_not_distinct=True,
    ),
)


def _model_key():
    return [
        Column("grain", String(4), nullable=False),
        Column("bucket", DateTime(timezone=True), nullable=False),
        Column("shard", SmallInteger, nullable=False),
        Column("model", String(128)),
        Column("prompt_name", String(64)),
        Column("prompt_version", Integer),
    ]


_MODEL_KEY = ("grain", "bucket", "shard", "model", "prompt_name", "prompt_version")

# Everyone's calls by model and prompt version, in shards (migration 0011): by-model's sums.
rollup_model = Table(
    "llm_log_rollup_model",
    db.metadata,
    *_model_key(),
    Column("calls", BigInteger, nullable=False, server_default="0"),
    Column("failed_calls", BigInteger, nullable=False, server_default="0"),
    Column("duration_count", BigInteger, nullable=False, server_default="0"),
    Column("duration_sum", BigInteger, nullable=False, server_default="0"),
    Column("total_tokens", BigInteger, nullable=False, server_default="0"),
    Column("cost_usd", Numeric, nullable=False, server_default="0"),
    UniqueConstraint(*_MODEL_KEY, name="uq_llm_log_rollup_model_key",
                     postgresql_nulls_not_distinct=True),
)

# A histogram of those calls' durations (llm_duration_bucket): by-model's p95.
rollup_model_durations = Table(
    "llm_log_rollup_model_durations",
    db.metadata,
    *_model_key(),
    Column("duration_bucket", Integer, nullable=False),
    Column("calls", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint(*_MODEL_KEY, "duration_bucket",
                     name="uq_llm_log_rollup_model_durations_key",
                     postgresql_nulls_not_distinct=True),
)

TABLES = (rollup_user, rollup_user_calls, rollup_user_durations, rollup_global, rollup_model,
          rollup_model_durations)
