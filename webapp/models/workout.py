"""Workouts, and the revisions an LLM proposes for them.

Documents shown to users (exercises, a revised workout) are `json`, not `jsonb`, so they
keep the key order they were written in.
"""

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, func, select, update,
)
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.orm import Mapped, mapped_column

from webapp.errors import NotFound
from webapp.extensions import db
from webapp.models.ownership import OwnedMixin


class Workout(OwnedMixin, db.Model):
    """A user's workout; `version` changes on every update."""

    display_name = "Workout"

    __tablename__ = "workouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    difficulty: Mapped[str] = mapped_column(String(16))
    exercises: Mapped[list] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (Index("ix_workouts_user_id_id", "user_id", db.text("id DESC")),)

    @classmethod
    def page_owned(cls, user, limit, offset):
        """A page of the user's workouts, newest first, and how many they have in all."""
        owned = cls.user_id == user.id
        workouts = db.session.scalars(
            select(cls).where(owned).order_by(cls.id.desc()).limit(limit).offset(offset)
        ).all()
        total = db.session.scalar(select(func.count()).select_from(cls).where(owned))
        return workouts, total

    def apply(self, draft):
        """Take the content of a validated WorkoutDraft (a dict); an update bumps the version."""
        if self.id is not None:
            self.version += 1
        self.title = draft["title"]
        self.description = draft["description"]
        self.duration_minutes = draft["duration_minutes"]
        self.difficulty = draft["difficulty"]
        self.exercises = draft["exercises"]

    def to_dict(self):
        """The workout as the API shows it."""
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "duration_minutes": self.duration_minutes,
            "difficulty": self.difficulty,
            "exercises": self.exercises,
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class WorkoutRevision(db.Model):
    """A revised workout the LLM proposed from feedback, waiting to be accepted."""

    __tablename__ = "workout_revisions"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'accepted', 'superseded')", name="status"),
        Index("ix_workout_revisions_workout_id_status", "workout_id", "status"),
        Index("ix_workout_revisions_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workout_id: Mapped[int] = mapped_column(ForeignKey("workouts.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    job_id: Mapped[uuid.UUID | None] = mapped_column()
    base_version: Mapped[int] = mapped_column(Integer)
    feedback: Mapped[str] = mapped_column(Text)
    revised: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who wrote it (SPEC section 15): the model the LLM's response named and the prompt.
    model: Mapped[str | None] = mapped_column(String(128))
    prompt_name: Mapped[str | None] = mapped_column(String(64))
    prompt_version: Mapped[int | None] = mapped_column(Integer)

    @classmethod
    def supersede_pending(cls, workout_id, except_id=None):
        """Mark the workout's other pending revisions as superseded.

        One UPDATE: PostgreSQL re-checks `status = 'pending'` on each row it had to wait
        for, so a revision accepted meanwhile stays accepted.
        """
        db.session.execute(
            update(cls)
            .where(cls.workout_id == workout_id, cls.status == "pending", cls.id != except_id)
            .values(status="superseded", decided_at=func.now())
            .execution_options(synchronize_session=False)
        )

    def summary(self):
        """A short description of the revised workout, for the log."""
        revised = self.revised
        return (
            f'"{revised["title"]}", {revised["duration_minutes"]} min, '
            f'{len(revised["exercises"])} exercises, {revised["difficulty"]}'
        )


def find_revision_to_accept(workout, revision_id=None):
    """The revision an accept is about: the given one, or the latest pending; 404 when there is
    none. The caller refuses (409) one that is no longer pending."""
    query = select(WorkoutRevision).where(WorkoutRevision.workout_id == workout.id)
    if revision_id is None:
        revision = db.session.scalar(
            query.where(WorkoutRevision.status == "pending").order_by(WorkoutRevision.id.desc()).limit(1)
        )
        if revision is None:
            raise NotFound(f"Workout {workout.id} has no pending revision.")
        return revision
    revision = db.session.scalar(query.where(WorkoutRevision.id == revision_id))
    if revision is None:
        raise NotFound(f"Workout {workout.id} has no revision {revision_id}.")
    return revision
