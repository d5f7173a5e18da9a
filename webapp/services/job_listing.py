"""The latest jobs, newest first: a user's own, or everyone's for an admin's overview."""

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Job


def recent_jobs(user_id=None, limit=20):
    """The last `limit` jobs (of `user_id` when given), newest first."""
    stmt = select(Job).order_by(Job.created_at.desc(), Job.id).limit(limit)
    if user_id is not None:
        stmt = stmt.where(Job.user_id == user_id)
    return db.session.scalars(stmt).all()
