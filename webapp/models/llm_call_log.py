"""The log of LLM calls: one row per call, the seed's columns and more."""

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, Numeric, String, Text
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
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))
    endpoint_name: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(10))
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
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

    def __repr__(self):
        return f"<LlmCallLog {self.id} {self.endpoint_name} success={self.success}>"
