"""Alert rules: what each one measures over its window, its changes of state, their events.

A rule is evaluated over the calls of its last `window_minutes`: `calls`, `error_rate` and
`cost_usd` are read from everyone's hourly rollup plus the raw rows at the window's ragged
edges (webapp.services.log_rollups), `p95_duration_ms` is percentile_cont over the window's
rows (at most a day of them, read by the timestamp index). Only a change of state makes an
event: `firing` when the value goes above the threshold, `resolved` when it no longer is.
The workers deliver the events of rules with a webhook (webapp.services.alert_webhooks).
"""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, text

from webapp.db_limits import INT4_MAX
from webapp.extensions import db
from webapp.models import AlertEvent, AlertRule
from webapp.services.log_rollups import WindowQuery, filter_sql, percent, utc_now

_SUMS = """
SELECT coalesce(sum(sign * calls), 0) AS calls,
       coalesce(sum(sign * calls) FILTER (WHERE NOT success), 0) AS failed_calls,
       coalesce(sum(sign * cost_usd), 0) AS cost_usd
FROM ({parts}) AS parts(sign, success, calls, cost_usd)
"""
_ROLLUP_SUMS = "SELECT success, calls, cost_usd FROM llm_log_rollup_global WHERE {where} {filters}"
_RAW_SUMS = "SELECT success, 1, coalesce(cost_usd, 0) FROM llm_call_logs WHERE {where} {filters}"
_P95 = """
SELECT round(percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)::numeric, 2)
FROM llm_call_logs WHERE "timestamp" >= :since {filters}
"""


@dataclass(frozen=True)
class Evaluation:
    """One rule's value now, the state it is in after this evaluation, and the event, if any."""

    rule: AlertRule
    value: float | None
    event: AlertEvent | None


def create_rule(name, metric, window_minutes, threshold, operation=None, webhook_url=None):
    """Store a new rule (state `ok`) and return it."""
    rule = AlertRule(name=name, metric=metric, operation=operation, window_minutes=window_minutes,
                     threshold=threshold, webhook_url=webhook_url, state="ok")
    db.session.add(rule)
    db.session.commit()
    return rule


def list_rules():
    """Every rule, oldest first."""
    return db.session.scalars(select(AlertRule).order_by(AlertRule.id)).all()


def delete_rule(rule_id):
    """Delete a rule (its events stay); False if there was none."""
    rule = db.session.get(AlertRule, rule_id) if 0 < rule_id <= INT4_MAX else None
    if rule is None:
        return False
    db.session.delete(rule)
    db.session.commit()
    return True


def list_events(limit=1000):
    """The latest events, newest first."""
    query = select(AlertEvent).order_by(AlertEvent.at.desc(), AlertEvent.id.desc()).limit(limit)
    return db.session.scalars(query).all()


def metric_value(metric, window_minutes, operation=None, now=None, sums=None):
    """The value of one metric over the calls of the last `window_minutes` (of one operation
    type, or all); None where it has no value (a rate or percentile over no calls).

    `sums`, a dict, keeps the window's calls, failures and cost for the next rule of the same
    window and operation in one evaluation: calls, error_rate and cost_usd read them once.
    """
    since = (now or utc_now()) - timedelta(minutes=window_minutes)
    params = {}
    filters = filter_sql({"llm_operation_type": operation}, params)
    if metric == "p95_duration_ms":
        value = db.session.scalar(text(_P95.format(filters=filters)), {**params, "since": since})
        return None if value is None else float(value)
    sums = {} if sums is None else sums
    row = sums.get((window_minutes, operation))
    if row is None:
        window = WindowQuery(since, params=params)
        parts = window.branches(_ROLLUP_SUMS.replace("{filters}", filters),
                                _RAW_SUMS.replace("{filters}", filters))
        row = sums[(window_minutes, operation)] = window.execute(_SUMS.format(parts=parts)).one()
    if metric == "calls":
        return float(row.calls)
    if metric == "cost_usd":
        return float(row.cost_usd)
    rate = percent(row.failed_calls, row.calls)
    return None if rate is None else float(rate)


def evaluate(rule, now=None, sums=None):
    """Measure the rule now and move it to its new state; an event (added to the session)
    when the state changed. The caller commits."""
    now = now or utc_now()
    value = metric_value(rule.metric, rule.window_minutes, rule.operation, now=now, sums=sums)
    # "Above" is strictly greater; a rule without a value is not firing.
    firing = value is not None and value > rule.threshold
    event = None
    if firing and rule.state != "firing":
        event = _event(rule, "firing", value, now)
    elif not firing and rule.state == "firing":
        event = _event(rule, "resolved", value, now)
    if event is not None:
        rule.state = event.state
        db.session.add(event)
    rule.last_value = value
    rule.evaluated_at = now
    return Evaluation(rule, value, event)


def _event(rule, state, value, now):
    return AlertEvent(
        rule_id=rule.id, rule_name=rule.name, state=state, value=value,
        threshold=rule.threshold, at=now, webhook_url=rule.webhook_url,
        delivery="pending" if rule.webhook_url else "none",
        next_delivery_at=now if rule.webhook_url else None,
    )


def evaluate_due(interval_s, now=None):
    """Evaluate the rules not evaluated in the last `interval_s` seconds; rules another worker
    is evaluating meanwhile are skipped. Returns the evaluations."""
    now = now or utc_now()
    due = (
        select(AlertRule)
        .where((AlertRule.evaluated_at.is_(None))
               | (AlertRule.evaluated_at <= now - timedelta(seconds=interval_s)))
        .order_by(AlertRule.id)
        .with_for_update(skip_locked=True)
    )
    return _evaluate_all(db.session.scalars(due).all(), now)


def evaluate_every_rule(now=None):
    """Evaluate every rule now (`flask alerts check`), waiting for any a worker holds."""
    now = now or utc_now()
    rules = db.session.scalars(select(AlertRule).order_by(AlertRule.id).with_for_update()).all()
    return _evaluate_all(rules, now)


def _evaluate_all(rules, now):
    try:
        sums = {}
        evaluations = [evaluate(rule, now, sums) for rule in rules]
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return evaluations


def shown_state(rule):
    """`firing`, or `ok` for a rule that is not (never fired, or resolved)."""
    return "firing" if rule.state == "firing" else "ok"

