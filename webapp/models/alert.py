"""Alert rules over the call log, and the events their changes of state make (SPEC §18)."""

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Float, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db

METRICS = ("error_rate", "p95_duration_ms", "cost_usd", "calls")


class AlertRule(db.Model):
    """A threshold on one metric of the last `window_minutes` of calls, and its state."""

    __tablename__ = "alert_rules"
    __table_args__ = (
        CheckConstraint("metric IN ('error_rate', 'p95_duration_ms', 'cost_usd', 'calls')",
                        name="metric"),
        CheckConstraint("state IN ('ok', 'firing', 'resolved')", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(32))
    # An llm_operation_type, or None for every call.
    operation: Mapped[str | None] = mapped_column(String(64))
    window_minutes: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float] = mapped_column(Float)
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    state: Mapped[str] = mapped_column(String(16), server_default="ok")
    last_value: Mapped[float | None] = mapped_column(Float)
    evaluated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def to_dict(self):
        """The rule as the admin API shows it."""
        return {
            "id": self.id,
            "name": self.name,
            "metric": self.metric,
            "operation": self.operation,
            "window_minutes": self.window_minutes,
            "threshold": self.threshold,
            "webhook_url": self.webhook_url,
            "state": self.state,
            "last_value": self.last_value,
            "evaluated_at": self.evaluated_at,
            "created_at": self.created_at,
        }


class AlertEvent(db.Model):
    """A rule going `firing` or `resolved`; kept whether or not its webhook took it."""

    __tablename__ = "alert_events"
    __table_args__ = (
        CheckConstraint("state IN ('firing', 'resolved')", name="state"),
        CheckConstraint("delivery IN ('none', 'pending', 'delivered', 'given_up')", name="delivery"),
        Index("ix_alert_events_pending_delivery", "next_delivery_at",
              postgresql_where=db.text("delivery = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign key: the events of a deleted rule stay, under the rule's name.
    rule_id: Mapped[int] = mapped_column(Integer)
    rule_name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    # none (no webhook), pending, delivered (a 2xx came back) or given_up.
    delivery: Mapped[str] = mapped_column(String(16), server_default="none")
    delivery_attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_delivery_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def to_dict(self):
        """The event as the admin API shows it and its webhook receives it."""
        return {
            "id": self.id,
            "rule_id": self.rule_id,
            "rule_name": self.rule_name,
            "state": self.state,
            "value": self.value,
            "threshold": self.threshold,
            "at": self.at,
        }
