"""The log of LLM calls: one row per call, the seed's columns and more.

The table is partitioned by month on `timestamp` (migration 0004): partitions are named
`llm_call_logs_yYYYYmMM`, and `llm_call_logs_default` takes any other timestamp. The
partitions are not in the models' metadata; `is_partition_table` tells them apart.
"""

import uuid
from datetime import datetime
from decimal import Decimal

import re

from sqlalchemy import (
    BigInteger, Boolean, DateTime, Index, Integer, Numeric, String, Text, UniqueConstraint, Uuid, text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db


class LlmCallLog(db.Model):
    """One logged call: who, which endpoint, how long, how it ended, tokens and cost."""

    __tablename__ = "llm_call_logs"
    __table_args__ = (
        # The seed's three indexes, under its names and as it writes them.
        Index("idx_llm_logs_user_timestamp", "user_id", db.text("timestamp DESC")),
        Index("idx_llm_logs_endpoint", "endpoint_name"),
        Index("idx_llm_logs_operation_type", "llm_operation_type"),
        # Newest first with id as tie-breaker: the admin listing, its keyset pages and the
        # time windows of the analytics read this index in order.
        Index("idx_llm_logs_timestamp_id", db.text("timestamp DESC"), db.text("id DESC")),
        # Failed calls only (a few percent of rows): the admin listing and count of failures.
        Index(
            "idx_llm_logs_failed",
            db.text("timestamp DESC"),
            db.text("id DESC"),
            postgresql_where=db.text("NOT success"),
        ),
        # The costliest and slowest calls of a window, read in index order (migration 0006).
        Index("idx_llm_logs_cost", db.text("cost_usd DESC NULLS LAST")),
        Index("idx_llm_logs_duration", db.text("duration_ms DESC NULLS LAST")),
        # The calls about one workout or plan: their llm_usage.
        Index("idx_llm_logs_workout_id", "workout_id",
              postgresql_where=db.text("workout_id IS NOT NULL")),
        Index("idx_llm_logs_training_plan_id", "training_plan_id",
              postgresql_where=db.text("training_plan_id IS NOT NULL")),
        # A job's rows by attempt, to find the attempts a lost worker left without a row. Not
        # unique: that would need the partition key; the job's attempt counter keeps it so.
        Index("idx_llm_logs_job_attempt", "job_id", "attempt",
              postgresql_where=db.text("job_id IS NOT NULL")),
        # A replayed row lands once; a unique key of a partitioned table holds its partition key.
        UniqueConstraint("call_id", "timestamp"),
        {"postgresql_partition_by": "RANGE (timestamp)"},
    )

    id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, server_default=text("nextval('llm_call_logs_id_seq')")
    )
    user_id: Mapped[str] = mapped_column(String(36))
    endpoint_name: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(10))
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    success: Mapped[bool] = mapped_column(Boolean)
    http_status_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_type: Mapped[str | None] = mapped_column(String(255))
    request_data: Mapped[dict | None] = mapped_column(JSONB)
    response_summary: Mapped[str | None] = mapped_column(String(500))
    llm_operation_type: Mapped[str | None] = mapped_column(String(64))
    workout_id: Mapped[int | None] = mapped_column(Integer)
    training_plan_id: Mapped[int | None] = mapped_column(Integer)
    user_agent: Mapped[str | None] = mapped_column(Text)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    job_id: Mapped[uuid.UUID | None] = mapped_column()
    model: Mapped[str | None] = mapped_column(String(128))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    total_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[Decimal | None] = mapped_column(Numeric(14, 6))
    queue_wait_ms: Mapped[int | None] = mapped_column(Integer)
    attempt: Mapped[int | None] = mapped_column(Integer)
    call_id: Mapped[uuid.UUID] = mapped_column(Uuid, server_default=text("gen_random_uuid()"))
    request_id: Mapped[str | None] = mapped_column(String(128))
    # Parts of prompt_tokens (served from the provider's cache) and of completion_tokens.
    cached_tokens: Mapped[int | None] = mapped_column(Integer)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)
    prompt_name: Mapped[str | None] = mapped_column(String(64))
    prompt_version: Mapped[int | None] = mapped_column(Integer)

    def __repr__(self):
        return f"<LlmCallLog {self.id} {self.endpoint_name} success={self.success}>"


_PARTITION_NAME = re.compile(r"^llm_call_logs_(default|y\d{4}m\d{2})$")


def is_partition_table(name):
    """Whether a table name is one of the log table's partitions (made by the database)."""
    return bool(_PARTITION_NAME.match(name or ""))


def include_in_schema_compare(name, type_, parent_names):
    """Alembic's include_name hook: leave out the partitions, which the models don't list."""
    return not (type_ == "table" and is_partition_table(name))
