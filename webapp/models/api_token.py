"""API tokens, stored only as hashes."""

import hashlib
import secrets
import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, func, select, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db


def hash_token(token):
    """SHA-256 of a token: tokens are 256 random bits, so a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(db.Model):
    """One bearer token of a user; revoked tokens stay for the record."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user = relationship("User", back_populates="tokens")

    @classmethod
    def issue(cls, user):
        """Add a new token for the user to the session and return the token in clear, once."""
        token = secrets.token_urlsafe(32)
        db.session.add(cls(user=user, token_hash=hash_token(token)))
        return token

    @classmethod
    def user_for(cls, token):
        """Return the user a valid, unrevoked token belongs to, or None."""
        return cls.user_for_hash(hash_token(token))

    @classmethod
    def user_for_hash(cls, token_hash):
        """Return the user of the unrevoked token with this hash, or None (the dashboard's
        session keeps the hash, not the token)."""
        from webapp.models.user import User

        return db.session.scalar(
            select(User)
            .join(cls, cls.user_id == User.id)
            .where(cls.token_hash == token_hash, cls.revoked_at.is_(None))
        )

    @classmethod
    def revoke_all(cls, user):
        """Revoke every live token of the user; return how many were revoked."""
        result = db.session.execute(
            update(cls)
            .where(cls.user_id == user.id, cls.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )
        return result.rowcount
