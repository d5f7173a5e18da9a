"""Owner scoping in the query itself: another user's row is a 404, as if it did not exist."""

from sqlalchemy import select

from webapp.db_limits import INT4_MAX
from webapp.errors import NotFound
from webapp.extensions import db


class OwnedMixin:
    """For models with a `user_id` owner column."""

    @classmethod
    def get_owned_or_404(cls, row_id, user, *, for_update=False):
        """The row with this id if the user owns it, else 404."""
        row = None
        if row_id is not None and (not isinstance(row_id, int) or 0 < row_id <= INT4_MAX):
            query = select(cls).where(cls.id == row_id, cls.user_id == user.id)
            if for_update:
                query = query.with_for_update()
            row = db.session.scalar(query)
        if row is None:
            raise NotFound(f"{cls.__name__} {row_id} does not exist.")
        return row
