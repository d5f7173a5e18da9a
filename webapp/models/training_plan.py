"""Training plans and the principles an LLM wrote for them."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.ownership import OwnedMixin


class TrainingPlan(OwnedMixin, db.Model):
    """A user's training plan: what they asked for and the principles that came back."""

    display_name = "Training plan"

    __tablename__ = "training_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    goal: Mapped[str] = mapped_column(String(200))
    experience_level: Mapped[str] = mapped_column(String(16))
    sessions_per_week: Mapped[int] = mapped_column(Integer)
    weeks: Mapped[int] = mapped_column(Integer)
    principles: Mapped[list] = mapped_column(JSON)
    weekly_structure: Mapped[str] = mapped_column(Text)
    progression: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def to_dict(self):
        """The plan as the API shows it (health notes are never stored here)."""
        return {
            "id": self.id,
            "name": self.name,
            "goal": self.goal,
            "experience_level": self.experience_level,
            "sessions_per_week": self.sessions_per_week,
            "weeks": self.weeks,
            "principles": self.principles,
            "weekly_structure": self.weekly_structure,
            "progression": self.progression,
            "created_at": self.created_at,
        }
