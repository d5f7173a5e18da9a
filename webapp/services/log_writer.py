"""Writes log rows: one INSERT on an autocommit connection, one round trip.

`ON CONFLICT DO NOTHING` on `(call_id, timestamp)` makes a replay of the same call (a row
spooled after a commit whose reply was lost) land once. Every row is fitted to its columns
first (webapp.services.log_repair), and a row the database still refuses for its content is
written again without its optional fields, so content never keeps a row out.
"""

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError

from webapp.models import LlmCallLog
from webapp.services.log_repair import fit, strip_optional

INSERT = insert(LlmCallLog.__table__).on_conflict_do_nothing(
    index_elements=["call_id", "timestamp"]
)
# What the database raises for a row's content (as opposed to being unreachable).
CONTENT_ERRORS = (DataError, IntegrityError, ProgrammingError)
# Every column a row may set (the id comes from its sequence): an executemany needs one shape.
_KEYS = tuple(c.name for c in LlmCallLog.__table__.columns if c.name != "id")


def _shaped(row):
    return {key: row.get(key) for key in _KEYS}


def prepare(row, harder=False):
    """The row fitted to its columns (`harder`: without its optional fields), in the shape
    INSERT takes, for a caller that inserts it in a transaction of its own."""
    row = fit(row)
    return _shaped(strip_optional(row) if harder else row)


def write_row(engine, row):
    """Insert the row (a dict of columns) and commit it; raises what the database raises
    when it is unreachable."""
    write_rows(engine, [row])


def write_rows(engine, rows):
    """Insert the rows in one transaction (each landing once); a batch refused for its
    content is written row by row, each fitted harder, so one bad row keeps out no other."""
    rows = [_shaped(fit(row)) for row in rows]
    if not rows:
        return
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(INSERT, rows)
        return
    except CONTENT_ERRORS:
        if len(rows) == 1:
            rows = [_shaped(strip_optional(rows[0]))]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for row in rows:
            try:
                conn.execute(INSERT, row)
            except CONTENT_ERRORS:
                conn.execute(INSERT, _shaped(strip_optional(row)))
