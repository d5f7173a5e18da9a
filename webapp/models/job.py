"""Jobs: one LLM operation queued for a worker, polled by the client."""

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSON, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.ownership import OwnedMixin


class Job(OwnedMixin, db.Model):
    """An LLM operation's lifecycle: queued, running, then succeeded or failed."""

    display_name = "Job"

    __tablename__ = "llm_jobs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name="status"),
        UniqueConstraint("user_id", "idempotency_key", name="uq_llm_jobs_user_id_idempotency_key"),
        # The sweeper looks for unfinished jobs only; finished ones stay out of this index.
        Index(
            "ix_llm_jobs_unfinished",
            "status",
            "lease_expires_at",
            postgresql_where=db.text("status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    operation_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    payload: Mapped[dict] = mapped_column(JSONB)
    request_meta: Mapped[dict] = mapped_column(JSONB)
    # json, not jsonb: the result keeps the key order it was written in.
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[dict | None] = mapped_column(JSONB)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Runs started (a claim), and LLM attempts started over all runs (SPEC section 5: the
    # `attempt` of each log row); when the last attempt started, for its WorkerLost row.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    llm_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempt_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The first enqueue, which a re-send never moves (queue_wait_ms is measured from it);
    # enqueued_at is when the job's message was last sent.
    first_enqueued_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    def to_dict(self):
        """The job as `GET /jobs/<id>` shows it."""
        return {
            "job_id": self.id,
            "status": self.status,
            "operation_type": self.operation_type,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "result": self.result if self.status == "succeeded" else None,
            "error": self.error if self.status == "failed" else None,
        }
