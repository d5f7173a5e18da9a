"""Owner scoping in the query itself: another user's row is a 404, as if it did not exist."""

from sqlalchemy import select

from webapp.db_limits import INT4_MAX
from webapp.errors import NotFound
from webapp.extensions import db


class OwnedMixin:
    """For models with a `user_id` owner column."""

    # What a 404 calls a row of this model, for people (not the class name; SPEC 9).
    display_name = "item"

    @classmethod
    def not_found_message(cls, row_id):
        """'Workout 12 does not exist.', or 'No such workout.' for an id that names nothing."""
        if row_id is None:
            return f"No such {cls.display_name.lower()}."
        return f"{cls.display_name} {row_id} does not exist."

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
            raise NotFound(cls.not_found_message(row_id))
        return row
