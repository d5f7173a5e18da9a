"""Per-user limits on LLM operation requests (SPEC section 12), across every web process.

Counters of our own rather than flask-limiter: the two daily budgets are sums over the
user's logged calls, which PostgreSQL already keeps per UTC day in the user rollup
(llm_log_rollup_user), so only the per-minute rate needs a counter, and that is one Lua
call in the Redis every web process shares. flask-limiter would add a dependency to count
that one window and still leave the budgets, the refusal's error shape and the shared
window over three routes to write by hand.
"""

import logging
import math
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache

import redis
from flask import current_app
from sqlalchemy import text

from webapp import metrics
from webapp.extensions import db

log = logging.getLogger(__name__)

WINDOW_S = 60
_REDIS_TIMEOUT_S = 2
# A sliding window: the accepted requests' times (Redis' own clock, the same for every web
# host) in a sorted set. Full: answer how long until the oldest leaves it. Else: add this one.
_SLIDING_WINDOW = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local window_ms = tonumber(ARGV[2]) * 1000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms - window_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tonumber(oldest[2]) + window_ms - now_ms
end
redis.call('ZADD', KEYS[1], now_ms, now_ms .. '-' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], window_ms + 1000)
return 0
"""
# A job's success row is written just after its result is committed; wait this long at most
# for the rows of jobs that just ended, so their tokens count as soon as the job has ended.
_SETTLE_S = 2.0


class LimitExceeded(Exception):
    """A limit refuses the request: which one, and in how many whole seconds to try again."""

    def __init__(self, limit, retry_after_s, message):
        super().__init__(message)
        self.limit = limit
        self.retry_after_s = max(1, math.ceil(retry_after_s))


def check_submit(user):
    """Raise LimitExceeded if a budget or the rate limit refuses this user's submit; count the
    submit in the rate window otherwise. Limits that are not set cost nothing."""
    config = current_app.config
    try:
        _check_budgets(user, config)
        _check_rate(user, config)
    except LimitExceeded as exc:
        metrics.record_refused(exc.limit)
        raise


def _check_budgets(user, config):
    token_budget = config.get("DAILY_TOKEN_BUDGET")
    cost_budget = config.get("DAILY_COST_BUDGET_USD")
    if not token_budget and not cost_budget:
        return
    now = datetime.now(timezone.utc)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    _settle_ended_jobs(user, today)
    tokens, cost = db.session.execute(text(
        "SELECT coalesce(sum(total_tokens), 0), coalesce(sum(cost_usd), 0) "
        "FROM llm_log_rollup_user WHERE grain = 'day' AND user_id = :user_id AND bucket = :day"
    ), {"user_id": str(user.id), "day": today}).one()
    until_midnight = (today + timedelta(days=1) - now).total_seconds()
    if token_budget and tokens >= token_budget:
        raise LimitExceeded("daily_token_budget", until_midnight,
                            "Your daily token budget is spent; it renews at midnight UTC.")
    if cost_budget and Decimal(cost) >= Decimal(str(cost_budget)):
        raise LimitExceeded("daily_cost_budget", until_midnight,
                            "Your daily cost budget is spent; it renews at midnight UTC.")


def _settle_ended_jobs(user, today):
    """Wait (briefly) for the success rows of the user's jobs that ended a moment ago."""
    deadline = time.monotonic() + _SETTLE_S
    while time.monotonic() < deadline:
        pending = db.session.scalar(text(
            # The log's lookup goes by (user_id, timestamp): it has no index on job_id.
            "SELECT EXISTS (SELECT 1 FROM llm_jobs j WHERE j.user_id = :user_id "
            "AND j.status = 'succeeded' AND j.finished_at >= :recent AND j.finished_at >= :today "
            "AND NOT EXISTS (SELECT 1 FROM llm_call_logs l WHERE l.user_id = :user_text "
            "AND l.timestamp >= :today AND l.job_id = j.id AND l.success))"
        ), {"user_id": user.id, "user_text": str(user.id), "today": today,
            "recent": datetime.now(timezone.utc) - timedelta(seconds=10)})
        db.session.rollback()
        if not pending:
            return
        time.sleep(0.02)


@lru_cache(maxsize=4)
def _client(url):
    client = redis.Redis.from_url(url, socket_timeout=_REDIS_TIMEOUT_S,
                                  socket_connect_timeout=_REDIS_TIMEOUT_S)
    return client, client.register_script(_SLIDING_WINDOW)


def _check_rate(user, config):
    limit = config.get("RATE_LIMIT_PER_MINUTE")
    if not limit:
        return
    _, script = _client(config["REDIS_URL"])
    key = f"{config['REDIS_KEY_PREFIX']}rate:{user.id}"
    try:
        wait_ms = script(keys=[key], args=[int(limit), WINDOW_S, time.time_ns()])
    except redis.RedisError:
        # Redis down: let the submit through rather than refuse every user (SPEC section 11).
        log.warning("Could not check the rate limit (Redis); letting the request through")
        return
    if wait_ms > 0:
        raise LimitExceeded("rate_limit", wait_ms / 1000,
                            f"Too many requests: at most {limit} LLM operations a minute.")
