"""Exporting the call log as CSV or JSON lines, streamed (SPEC section 8).

Rows come through a server-side cursor a batch at a time, so an export of ten million rows
holds one batch in memory, never the result.
"""

import csv
import io
import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import LlmCallLog
from webapp.services.log_queries import NEWEST_FIRST, LogFilters

BATCH_ROWS = 1000
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def own_filters(user_id, *, days, endpoint_name=None, llm_operation_type=None, success=None):
    """The filters of a user's own export: my-logs' filters over the last `days` × 24 hours."""
    return LogFilters(user_id=user_id, endpoint_name=endpoint_name,
                      llm_operation_type=llm_operation_type, success=success,
                      since=datetime.now(timezone.utc) - timedelta(days=days))


def file_name(prefix, fmt):
    """A file name that says what and when: llm-logs-20261201T134500Z.csv."""
    return f"{prefix}-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.{fmt}"


class RowStream:
    """The rows matching the filters, newest first, read through a server-side cursor.

    The query runs when the stream is made, so a database that is down fails the request
    before an answer starts; iterate it to read the rows, close it to give the connection back.
    """

    def __init__(self, filters):
        self._connection = db.engine.connect().execution_options(
            stream_results=True, max_row_buffer=BATCH_ROWS)
        try:
            stmt = (select(LlmCallLog.__table__).where(*filters.conditions())
                    .order_by(*NEWEST_FIRST))
            # Rows as mappings: the schema reads each field by key, which a Row would refuse
            # (TypeError, caught, then getattr) for every field of every row.
            self._result = self._connection.execute(stmt).mappings()
        except Exception:
            self._connection.close()
            raise

    def batches(self):
        """Lists of at most BATCH_ROWS rows until none are left; closes the stream at the end."""
        try:
            while batch := self._result.fetchmany(BATCH_ROWS):
                yield batch
        finally:
            self.close()

    def close(self):
        """Give the connection back (ends the cursor's transaction)."""
        self._connection.close()


def encode(stream, fmt, as_dict, columns, on_batch=None):
    """The export as chunks of text: `as_dict(row)` gives a row's log object (that of
    GET /llm-logs/<id>); CSV has a header row of `columns` first. `on_batch(n)` is told
    how many rows each chunk holds (for a progress bar)."""
    if fmt == "csv":
        yield _csv_line(columns)
    for batch in stream.batches():
        if on_batch is not None:
            on_batch(len(batch))
        items = (as_dict(row) for row in batch)
        if fmt == "csv":
            yield "".join(_csv_line(_csv_value(item[name]) for name in columns) for item in items)
        else:
            yield "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)


def _csv_line(values):
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(list(values))
    return out.getvalue()


def _csv_value(value):
    """A cell: empty for null, JSON for objects, true/false as in the JSON form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value
