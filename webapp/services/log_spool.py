"""The log spool: log rows that PostgreSQL could not take wait in Redis until it can.

The logging service puts a row here when its write fails; the job sweeper, which runs
in every worker, drains the spool into `llm_call_logs` once the database is back.
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
from webapp.services.log_writer import write_row

log = logging.getLogger(__name__)

# A spooling attempt must not hold up the operation whose row it keeps.
_REDIS_TIMEOUT_S = 2


@lru_cache(maxsize=4)
def _client(url):
    return redis.Redis.from_url(
        url, socket_timeout=_REDIS_TIMEOUT_S, socket_connect_timeout=_REDIS_TIMEOUT_S
    )


def _key():
    return f"{current_app.config['REDIS_KEY_PREFIX']}llm_call_logs:spool"


def spool(row):
    """Keep a log row (a dict of columns) in Redis for later; raises if Redis is down too."""
    _client(current_app.config["REDIS_URL"]).rpush(_key(), json.dumps(row, default=str))


def depth():
    """How many log rows wait in the spool; NaN when Redis cannot say."""
    try:
        return _client(current_app.config["REDIS_URL"]).llen(_key())
    except redis.RedisError:
        return float("nan")


def drain(limit=1000):
    """Write up to `limit` spooled rows to the database, oldest first; return how many.

    While the database is unreachable a row goes back to the head of the spool and the
    drain stops, to try again at the next sweep; a row the database refuses is set aside.
    """
    client = _client(current_app.config["REDIS_URL"])
    written = 0
    while written < limit:
        text = client.lpop(_key())
        if text is None:
            break
        try:
            write_row(db.engine, _revive(json.loads(text)))
        except (OperationalError, InterfaceError):
            client.lpush(_key(), text)
            log.warning("The database is still unreachable; the spooled log rows wait")
            break
        except Exception:
            # The database is up but refuses this row: set it aside so it blocks no other.
            client.rpush(_key() + ":rejected", text)
            log.exception("A spooled LLM call log row was refused; kept it under %s:rejected",
                          _key())
            continue
        written += 1
    if written:
        log.info("Wrote %d spooled LLM call log row(s)", written)
    return written


def _revive(row):
    """Turn the JSON text of the typed columns back into their types."""
    row["timestamp"] = datetime.fromisoformat(row["timestamp"])
    for key in ("job_id", "call_id"):
        if row.get(key):
            row[key] = uuid.UUID(row[key])
    if row.get("cost_usd") is not None:
        row["cost_usd"] = Decimal(row["cost_usd"])
    return row
