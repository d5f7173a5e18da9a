"""Users and their roles."""

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, String, func, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db


class User(db.Model):
    """Someone who calls the API: a plain user or an admin."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('user', 'admin')", name="role"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="user", server_default="user")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    tokens = relationship("ApiToken", back_populates="user", cascade="all, delete-orphan")

    @property
    def is_admin(self):
        """Whether the user may read every log and the analytics."""
        return self.role == "admin"

    @classmethod
    def by_email(cls, email):
        """Return the user with this email (compared case-insensitively), or None."""
        return db.session.scalar(select(cls).where(cls.email == normalize_email(email)))

    def __repr__(self):
        return f"<User {self.email} {self.role}>"


class ErasedUser(db.Model):
    """The id of an erased user, and nothing else of them: the log drops a row for one as it
    is inserted (a trigger, migration 0012), so a row that arrives after the erasure (an LLM
    call that was in flight, a spool draining) does not bring the id back."""

    __tablename__ = "erased_users"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


def normalize_email(email):
    """Emails are stored trimmed and lower-cased, so one address is one user."""
    return email.strip().lower()
