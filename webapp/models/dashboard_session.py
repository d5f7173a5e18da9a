"""Dashboard sign-ins, so that signing out ends one for good (a copy of its cookie included)."""

import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import DateTime, ForeignKey, String, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.api_token import hash_token

# A sign-in lasts this long at most; older rows are removed as others sign in.
MAX_AGE = timedelta(days=30)


class DashboardSession(db.Model):
    """One sign-in to the dashboard. The cookie holds the session's key, this row only its
    hash; signing out deletes the row. Erasing the user deletes it too (the foreign key)."""

    __tablename__ = "dashboard_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    @classmethod
    def start(cls, user):
        """Add a session for the user (and drop the expired ones); return its key, in clear."""
        db.session.execute(delete(cls).where(cls.created_at < func.now() - MAX_AGE))
        key = secrets.token_urlsafe(32)
        db.session.add(cls(user_id=user.id, key_hash=hash_token(key)))
        return key

    @classmethod
    def owner_of(cls, key):
        """The id of the user whose live session has this key, or None."""
        return db.session.scalar(
            select(cls.user_id).where(cls.key_hash == hash_token(key),
                                      cls.created_at >= func.now() - MAX_AGE))

    @classmethod
    def end(cls, key):
        """End the session with this key, if there is one."""
        db.session.execute(delete(cls).where(cls.key_hash == hash_token(key)))
