"""Webhook deliveries of alert events, by the workers (SPEC §18).

An event to deliver is `pending` with the time of its next attempt. A worker claims due events
by moving that time past a lease (so two workers never post the same attempt), posts each in a
thread of its own, and records the outcome: `delivered` after a 2xx, else the next attempt
after a backoff that doubles from a second up to half a minute, for a quarter of an hour, then
`given_up`. The schedule lives in the table, not in a sleeping thread, so it survives a worker
restart and a slow or unreachable webhook holds up nothing but its own delivery.
"""

import logging
from datetime import timedelta, timezone

import httpx2
from sqlalchemy import text

from webapp.extensions import db
from webapp.services.log_rollups import utc_now

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(seconds=60)
FIRST_RETRY_S = 1.0
MAX_RETRY_S = 30.0
GIVE_UP_AFTER = timedelta(minutes=15)
TIMEOUT = httpx2.Timeout(5.0, connect=3.0)

_CLAIM = text("""
UPDATE alert_events SET next_delivery_at = :lease_until
WHERE id IN (
    SELECT id FROM alert_events
    WHERE delivery = 'pending' AND next_delivery_at <= :now
    ORDER BY next_delivery_at, id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
RETURNING id, rule_id, rule_name, state, value, threshold, at, webhook_url, delivery_attempts
""")
_DELIVERED = text("""
UPDATE alert_events
SET delivery = 'delivered', delivered_at = :now, delivery_attempts = delivery_attempts + 1,
    next_delivery_at = NULL
WHERE id = :id AND delivery = 'pending'
""")
_FAILED = text("""
UPDATE alert_events
SET delivery_attempts = delivery_attempts + 1,
    delivery = CASE WHEN :give_up THEN 'given_up' ELSE 'pending' END,
    next_delivery_at = CASE WHEN :give_up THEN NULL ELSE :next_at END
WHERE id = :id AND delivery = 'pending'
""")


def claim_due(limit, now=None):
    """Take up to `limit` events whose delivery is due, leased to this worker."""
    now = now or utc_now()
    with db.engine.begin() as conn:
        rows = conn.execute(_CLAIM, {"now": now, "lease_until": now + CLAIM_LEASE, "limit": limit})
        return [row._asdict() for row in rows]


def payload(event):
    """The JSON object posted for an event: the event as GET /admin/alerts/events shows it."""
    return {
        "id": event["id"],
        "rule_id": event["rule_id"],
        "rule_name": event["rule_name"],
        "state": event["state"],
        "value": event["value"],
        "threshold": event["threshold"],
        "at": event["at"].astimezone(timezone.utc).isoformat(),
    }


def deliver(event, on_failure=None):
    """POST one claimed event to its webhook and record how it went; True once delivered.
    `on_failure()` is called for each failed attempt (the metric)."""
    body = payload(event)
    try:
        response = httpx2.post(event["webhook_url"], json=body, timeout=TIMEOUT)
        reason = None if 200 <= response.status_code < 300 else f"answered {response.status_code}"
    except (httpx2.HTTPError, httpx2.InvalidURL, UnicodeError) as exc:  # a URL it refuses too
        reason = f"failed: {type(exc).__name__}"
    now = utc_now()
    with db.engine.begin() as conn:
        if reason is None:
            conn.execute(_DELIVERED, {"id": event["id"], "now": now})
            return True
        attempts = event["delivery_attempts"] + 1
        give_up = now - event["at"] >= GIVE_UP_AFTER
        delay = min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** (attempts - 1))
        conn.execute(_FAILED, {"id": event["id"], "give_up": give_up,
                               "next_at": now + timedelta(seconds=delay)})
    if on_failure is not None:
        on_failure()
    log.warning(
        "Alert webhook for event %s (rule %s) %s on attempt %s; %s",
        event["id"], event["rule_name"], reason, attempts,
        "giving up" if give_up else f"trying again in {delay:g} s",
    )
    return False
