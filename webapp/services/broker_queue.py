"""Which jobs have a message in the broker: queued in its list, or taken by a worker.

The sweeper sends a job again only when it has no message there, so a backlog of N jobs
stays N messages. This reads kombu's Redis layout (the queue's lists, one per priority, and
the `unacked` hash of messages a worker took but has not acknowledged); with another broker
it answers None (unknown), and the sweeper falls back to a resend time that grows with the
backlog.
"""

import json
import re
import time
from functools import lru_cache

import redis

_JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PRIORITY_SEP = "\x06\x16"  # kombu's separator of a queue's priority lists
_PRIORITY_STEPS = (0, 3, 6, 9)
_CHUNK = 1000


def readable(celery):
    """Whether the broker's queue can be read here (a Redis broker)."""
    return str(celery.conf.broker_url or "").startswith(("redis://", "rediss://", "unix://"))


def job_ids_with_messages(celery, unacked_older_than_s):
    """Ids (text) of jobs with a live message, as (waiting in the queue, taken by a worker),
    or None when the broker cannot be read so.

    A message a worker took longer than `unacked_older_than_s` ago counts as lost: its
    worker is gone (kombu itself only restores it after its visibility timeout).
    """
    if not readable(celery):
        return None
    prefix = (celery.conf.broker_transport_options or {}).get("global_keyprefix", "")
    queue = prefix + (celery.conf.task_default_queue or "celery")
    found, taken = set(), set()
    client = _client(celery.conf.broker_url)
    for step in _PRIORITY_STEPS:
        key = queue if step == 0 else f"{queue}{_PRIORITY_SEP}{step}"
        for start in range(0, client.llen(key), _CHUNK):
            for text in client.lrange(key, start, start + _CHUNK - 1):
                found.update(_job_ids(text))
    ceiling = time.time() - unacked_older_than_s
    live_tags = client.zrangebyscore(prefix + "unacked_index", ceiling, "+inf")
    for start in range(0, len(live_tags), _CHUNK):
        for text in client.hmget(prefix + "unacked", live_tags[start:start + _CHUNK]):
            if text:
                taken.update(_job_ids(text))
    return found, taken


@lru_cache(maxsize=4)
def _client(url):
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)


def _job_ids(text):
    """The job ids a message names in its task arguments."""
    try:
        message = json.loads(text)
    except ValueError:
        return set()
    if isinstance(message, list):  # an unacked entry: [message, exchange, routing_key]
        message = message[0] if message else {}
    headers = message.get("headers") or {}
    return set(_JOB_ID.findall(str(headers.get("argsrepr") or "")))
