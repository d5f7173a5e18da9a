"""Writes one log row: a single INSERT on an autocommit connection, one round trip.

`ON CONFLICT DO NOTHING` on `(call_id, timestamp)` makes a replay of the same call (a row
spooled after a commit whose reply was lost) land once.
"""

from sqlalchemy.dialects.postgresql import insert

from webapp.models import LlmCallLog

_INSERT = insert(LlmCallLog.__table__).on_conflict_do_nothing(
    index_elements=["call_id", "timestamp"]
)


def write_row(engine, row):
    """Insert the row (a dict of columns) and commit it; raises what the database raises."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(_INSERT, row)
