"""The log spool: log rows that PostgreSQL could not take wait here until it can.

The logging service puts a row here when its write fails: in Redis, or, with Redis down
too, in a local file of this deployment's own (webapp.services.log_spool_file). The job
sweeper, which runs in every worker, drains both once the database is back.

Nothing is lost on the way: a drainer moves rows to a processing list (LMOVE) before it
writes them and deletes them only after the commit; the rows of a drainer that died are
moved back and written by the next one. A replay lands once (ON CONFLICT on call_id).
"""

import json
import logging
import uuid
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

import redis
from flask import current_app
from sqlalchemy.exc import InterfaceError, OperationalError

from webapp.extensions import db
from webapp.services import log_spool_file
from webapp.services.log_writer import write_rows

log = logging.getLogger(__name__)

# A spooling attempt must not hold up the operation whose row it keeps.
_REDIS_TIMEOUT_S = 2
# Rows moved and written per round trip.
_BATCH = 200
# One drainer at a time; a drainer that dies frees the lock after this long.
_DRAIN_LEASE_S = 60
_UNREACHABLE = (OperationalError, InterfaceError)


@lru_cache(maxsize=4)
def _client(url):
    return redis.Redis.from_url(
        url, socket_timeout=_REDIS_TIMEOUT_S, socket_connect_timeout=_REDIS_TIMEOUT_S
    )


def _key(suffix=""):
    return f"{current_app.config['REDIS_KEY_PREFIX']}llm_call_logs:spool{suffix}"


def encode(row):
    """A row as the JSON text the spools keep."""
    return json.dumps(row, default=str)


def spool(row):
    """Keep a log row (a dict of columns) for later: in Redis, else in the local spool file;
    raises only if neither takes it."""
    text = encode(row)
    try:
        _client(current_app.config["REDIS_URL"]).rpush(_key(), text)
        return "redis"
    except redis.RedisError:
        log_spool_file.append(text)
        return "file"


def depth():
    """How many log rows wait to be written: in Redis (those a drainer holds included) and in
    this deployment's local spool file; NaN when Redis cannot say."""
    try:
        pipe = _client(current_app.config["REDIS_URL"]).pipeline(transaction=False)
        waiting = sum(pipe.llen(_key()).llen(_key(":processing")).execute())
    except redis.RedisError:
        return float("nan")
    return waiting + log_spool_file.depth()


def drain(limit=10_000):
    """Write up to `limit` spooled rows to the database, oldest first; return how many.

    While the database is unreachable the rows stay spooled and the drain stops, to try
    again at the next sweep. The local spool file is drained after Redis, even with Redis down.
    """
    written = 0
    try:
        written += _drain_redis(limit)
    except redis.RedisError:
        log.warning("Redis is unreachable; the log rows spooled there wait")
    except _UNREACHABLE:
        log.warning("The database is still unreachable; the spooled log rows wait")
        return written
    try:
        written += log_spool_file.drain(lambda texts: write_rows(db.engine, _rows(texts)))
    except _UNREACHABLE:
        log.warning("The database is still unreachable; the log rows spooled on file wait")
    if written:
        log.info("Wrote %d spooled LLM call log row(s)", written)
    return written


def _drain_redis(limit):
    client = _client(current_app.config["REDIS_URL"])
    token = uuid.uuid4().hex
    if not client.set(_key(":drain-lock"), token, nx=True, ex=_DRAIN_LEASE_S):
        return 0  # another worker is draining
    spooled, processing = _key(), _key(":processing")
    written = 0
    try:
        _put_back(client, processing, spooled)  # rows of a drainer that died mid-way
        while written < limit:
            pipe = client.pipeline(transaction=False)
            for _ in range(_BATCH):
                pipe.lmove(spooled, processing, "LEFT", "RIGHT")
            texts = [text for text in pipe.execute() if text is not None]
            if not texts:
                break
            try:
                write_rows(db.engine, _rows(texts))
            except _UNREACHABLE:
                _put_back(client, processing, spooled)
                raise
            client.delete(processing)
            client.expire(_key(":drain-lock"), _DRAIN_LEASE_S)
            written += len(texts)
    finally:
        if client.get(_key(":drain-lock")) == token.encode():
            client.delete(_key(":drain-lock"))
    return written


def _put_back(client, processing, spooled):
    """Move rows from the processing list back to the head of the spool, in their order."""
    while client.lmove(processing, spooled, "RIGHT", "LEFT") is not None:
        pass


def _rows(texts):
    rows = []
    for text in texts:
        try:
            rows.append(_revive(json.loads(text)))
        except (ValueError, KeyError, TypeError):
            # Not a row at all (the spool's own text is always one): say so where it is seen.
            log.error("Dropped a spooled text that is not a log row: %r", text[:2000])
    return rows


def _revive(row):
    """Turn the JSON text of the typed columns back into their types."""
    row["timestamp"] = datetime.fromisoformat(row["timestamp"])
    for key in ("job_id", "call_id"):
        if row.get(key):
            row[key] = uuid.UUID(row[key])
    if row.get("cost_usd") is not None:
        row["cost_usd"] = Decimal(row["cost_usd"])
    return row
