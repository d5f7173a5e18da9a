"""Alert rules (SPEC §18): the admin API, evaluation over the log, events, webhooks."""

import json
import socket
import threading
import time
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, text

from tests.log_factories import LlmCallLogFactory, ago
from tests.test_metrics import worker_process  # noqa: F401  (a fixture)
from webapp.extensions import db
from webapp.models import AlertEvent
from webapp.services import alerts
from webapp.services.log_rollups import utc_now

pytestmark = pytest.mark.usefixtures("app_ctx")

RULE = {"name": "create errors", "metric": "error_rate", "operation": "workout_creation",
        "window_minutes": 10, "threshold": 20}


def _create(client, headers, **changes):
    response = client.post("/admin/alerts", json={**RULE, **changes}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _calls(successes=0, failures=0, minutes_ago=1, **fields):
    for success in [True] * successes + [False] * failures:
        LlmCallLogFactory(success=success, timestamp=ago(minutes=minutes_ago), **fields)


def _check(runner):
    result = runner.invoke(args=["alerts", "check"])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def _events(client, headers):
    response = client.get("/admin/alerts/events", headers=headers)
    assert response.status_code == 200
    return response.get_json()["items"]


def test_an_admin_creates_lists_and_deletes_a_rule(client, auth):
    _, headers = auth.admin()
    rule = _create(client, headers, webhook_url="http://127.0.0.1:9/hook")
    assert isinstance(rule["id"], int)
    assert {key: rule[key] for key in RULE} == {**RULE, "threshold": 20.0}
    assert rule["webhook_url"] == "http://127.0.0.1:9/hook"
    assert rule["state"] == "ok"
    listed = client.get("/admin/alerts", headers=headers).get_json()["items"]
    assert [item["id"] for item in listed] == [rule["id"]]
    assert client.delete(f"/admin/alerts/{rule['id']}", headers=headers).status_code == 204
    assert client.get("/admin/alerts", headers=headers).get_json()["items"] == []
    assert client.delete(f"/admin/alerts/{rule['id']}", headers=headers).status_code == 404
    for other in ("2335612276630", "0", "01", "abc"):
        assert client.delete(f"/admin/alerts/{other}", headers=headers).status_code == 404


def test_a_rule_without_operation_or_webhook_covers_every_call(client, auth):
    _, headers = auth.admin()
    rule = _create(client, headers, operation=None, metric="calls")
    assert rule["operation"] is None and rule["webhook_url"] is None


@pytest.mark.parametrize("changes, field", [
    ({"metric": "latency"}, "metric"),
    ({"window_minutes": 0}, "window_minutes"),
    ({"window_minutes": 1441}, "window_minutes"),
    ({"threshold": "high"}, "threshold"),
    ({"threshold": True}, "threshold"),
    ({"operation": "dancing"}, "operation"),
    ({"webhook_url": "ftp://example.com/x"}, "webhook_url"),
    ({"webhook_url": "http://example.com/\u0000"}, "webhook_url"),
    ({"webhook_url": "http://example.com/\ud800"}, "webhook_url"),
    ({"webhook_url": "http://example.com/\u007f"}, "webhook_url"),
    ({"webhook_url": "http://example.com:99999/hook"}, "webhook_url"),
    ({"name": ""}, "name"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_rule_is_a_400_naming_the_field(client, auth, changes, field):
    _, headers = auth.admin()
    response = client.post("/admin/alerts", json={**RULE, **changes}, headers=headers)
    assert response.status_code == 400
    assert field in response.get_json()["error"]["details"]["fields"]


def test_alerts_are_for_admins(client, auth):
    _, headers = auth.user()
    assert client.get("/admin/alerts", headers=headers).status_code == 403
    assert client.post("/admin/alerts", json=RULE, headers=headers).status_code == 403
    assert client.get("/admin/alerts/events", headers=headers).status_code == 403
    assert client.delete("/admin/alerts/1", headers=headers).status_code == 403
    assert client.get("/admin/alerts").status_code == 401
    assert client.delete("/admin/alerts/abc").status_code == 401


def test_an_error_rate_burst_fires_and_resolves_after(client, auth, runner):
    _, headers = auth.admin()
    rule = _create(client, headers)
    _calls(successes=2, failures=3)
    # Calls of another operation, and calls before the window, do not count.
    _calls(failures=5, llm_operation_type="workout_revision")
    _calls(failures=5, minutes_ago=30)
    assert _check(runner) == ["create errors firing 60"]
    events = _events(client, headers)
    assert [(e["rule_id"], e["rule_name"], e["state"], e["value"], e["threshold"])
            for e in events] == [(rule["id"], "create errors", "firing", 60.0, 20.0)]
    # Still firing: no second event.
    assert _check(runner) == ["create errors firing 60"]
    assert len(_events(client, headers)) == 1

    _calls(successes=20)
    assert _check(runner) == ["create errors ok 12"]
    events = _events(client, headers)
    assert [(e["state"], e["value"]) for e in events] == [("resolved", 12.0), ("firing", 60.0)]
    assert events[0]["at"] > events[1]["at"]
    listed = client.get("/admin/alerts", headers=headers).get_json()["items"]
    assert listed[0]["state"] == "resolved" and listed[0]["last_value"] == 12.0


def test_a_value_equal_to_the_threshold_or_null_is_not_firing(client, auth, runner):
    _, headers = auth.admin()
    _create(client, headers, threshold=50)
    _create(client, headers, name="slow", metric="p95_duration_ms", threshold=1200)
    _calls(successes=1, failures=1)
    assert _check(runner) == ["create errors ok 50", "slow ok 1200"]
    with client.application.app_context():
        db.session.execute(text("DELETE FROM llm_call_logs"))
        db.session.commit()
    assert _check(runner) == ["create errors ok null", "slow ok null"]
    assert _events(client, headers) == []


def test_a_p95_rule_fires_on_the_windows_95th_percentile(app, client, auth, runner):
    _, headers = auth.admin()
    _create(client, headers, name="p95", metric="p95_duration_ms", operation=None,
            window_minutes=60, threshold=900)
    for duration in range(100, 2100, 100):
        LlmCallLogFactory(duration_ms=duration, timestamp=ago(minutes=5))
    LlmCallLogFactory(duration_ms=99_999, timestamp=ago(minutes=90))  # outside the window
    with app.app_context():
        expected = db.session.scalar(text(
            "SELECT round(percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)::numeric, 2)"
            " FROM llm_call_logs WHERE timestamp >= now() - interval '60 minutes'"))
    assert expected == Decimal("1905.00")
    assert _check(runner) == ["p95 firing 1905"]


def test_a_cost_rule_sums_the_window_across_hours_as_plain_sql_does(app, client, auth, runner):
    _, headers = auth.admin()
    _create(client, headers, name="spend", metric="cost_usd", operation=None,
            window_minutes=1440, threshold=1.5)
    # Calls spread over the last day, so the window reads whole hours and ragged edges.
    for minutes in range(7, 1440, 37):
        LlmCallLogFactory(cost_usd=Decimal("0.031250"), timestamp=ago(minutes=minutes))
    LlmCallLogFactory(cost_usd=Decimal("5"), timestamp=ago(minutes=1450))  # just outside
    with app.app_context():
        now = utc_now()
        expected = db.session.scalar(text(
            "SELECT sum(cost_usd) FROM llm_call_logs WHERE timestamp >= :since"),
            {"since": now - timedelta(minutes=1440)})
        assert alerts.metric_value("cost_usd", 1440, now=now) == float(expected)
        assert alerts.metric_value("calls", 1440, now=now) == 39.0
    assert float(expected) == 39 * 0.03125
    assert _check(runner) == ["spend ok 1.21875"]
    LlmCallLogFactory(cost_usd=Decimal("0.5"), timestamp=ago(minutes=2))
    assert _check(runner) == ["spend firing 1.71875"]


def test_only_due_rules_are_evaluated_and_a_busy_rule_is_skipped(app, client, auth):
    _, headers = auth.admin()
    first = _create(client, headers)
    _calls(failures=1)
    with app.app_context():
        assert [e.rule.id for e in alerts.evaluate_due(60)] == [first["id"]]
        assert alerts.evaluate_due(60) == []  # evaluated just now
        second = alerts.create_rule("other", "calls", 5, 0)
        assert [e.rule.id for e in alerts.evaluate_due(60)] == [second.id]
        later = utc_now() + timedelta(seconds=61)
        assert [e.rule.id for e in alerts.evaluate_due(60, now=later)] == [first["id"], second.id]


class Webhook:
    """A local webhook receiver that answers the statuses it is given, then 200."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.received = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((time.monotonic(), self.headers["Content-Type"],
                                          json.loads(body)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _hanging_url():
    """A webhook that takes the connection and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    return listener, f"http://127.0.0.1:{listener.getsockname()[1]}/never"


@pytest.fixture
def alerting(app):
    """The workers' alert threads, evaluating every second; stopped after the test."""
    from tasks.alerting import start_alerting

    failures = []
    previous = app.config["ALERT_EVAL_INTERVAL_S"]
    app.config["ALERT_EVAL_INTERVAL_S"] = 1
    stop = start_alerting(app, on_webhook_failure=lambda: failures.append(time.monotonic()))
    yield failures
    stop.set()
    app.config["ALERT_EVAL_INTERVAL_S"] = previous
    time.sleep(0.6)


def _wait(condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _delivery(app, event_id):
    with app.app_context():
        event = db.session.get(AlertEvent, event_id)
        state = (event.delivery, event.delivery_attempts)
        db.session.rollback()
        return state


def test_a_webhook_that_fails_twice_gets_the_event_on_the_third_try(app, client, auth, alerting):
    hook = Webhook(statuses=[500, 503])
    try:
        _, headers = auth.admin()
        _calls(failures=1)
        _create(client, headers, webhook_url=hook.url)
        assert _wait(lambda: len(hook.received) == 3, timeout=15), hook.received
        event = _events(client, headers)[0]
        assert [body for _, _, body in hook.received] == [event] * 3
        assert {content_type for _, content_type, _ in hook.received} == {"application/json"}
        # Backoff doubling from a second.
        times = [at for at, _, _ in hook.received]
        assert 0.9 <= times[1] - times[0] < 2.5
        assert 1.9 <= times[2] - times[1] < 3.5
        assert _wait(lambda: _delivery(app, event["id"]) == ("delivered", 3), timeout=2)
        assert len(alerting) == 2
        time.sleep(1.5)
        assert len(hook.received) == 3  # delivered once
    finally:
        hook.close()


def test_an_unreachable_webhook_never_holds_up_the_others(app, client, auth, alerting):
    hook = Webhook()
    listeners = []
    try:
        _, headers = auth.admin()
        _calls(failures=1)
        for number in range(3):
            listener, url = _hanging_url()
            listeners.append(listener)
            _create(client, headers, name=f"hanging {number}", webhook_url=url)
        started = time.monotonic()
        _create(client, headers, name="good", webhook_url=hook.url)
        assert _wait(lambda: hook.received, timeout=5)
        assert hook.received[0][2]["rule_name"] == "good"
        assert hook.received[0][0] - started < 3.0
        # The hanging ones keep their events, pending another attempt.
        with app.app_context():
            pending = db.session.scalars(
                select(AlertEvent).where(AlertEvent.rule_name.like("hanging%"))).all()
            assert {event.delivery for event in pending} == {"pending"}
            assert len(pending) == 3
    finally:
        hook.close()
        for listener in listeners:
            listener.close()


def test_the_plain_worker_command_evaluates_the_rules(app, worker_process):
    """`celery -A tasks worker` starts the evaluation itself (no beat, no test hook)."""
    rule = alerts.create_rule("from the worker", "calls", 5, -1)
    deadline = time.monotonic() + 45
    events = []
    while not events and time.monotonic() < deadline:
        db.session.rollback()
        events = db.session.scalars(select(AlertEvent).where(AlertEvent.rule_id == rule.id)).all()
        time.sleep(0.5)
    assert [(event.state, event.value) for event in events] == [("firing", 0.0)]


@pytest.mark.parametrize("url", ["http://[1:2c0F:2BE]/hook", "http://a..b/hook"])
def test_a_webhook_url_that_cannot_be_posted_to_is_a_failed_attempt(app, client, auth, alerting,
                                                                     url):
    """A URL of the accepted shape that the HTTP client refuses: each try is counted as a
    failed attempt and retried with backoff, like an unreachable host."""
    _, headers = auth.admin()
    _calls(failures=1)
    _create(client, headers, webhook_url=url)
    assert _wait(lambda: len(alerting) >= 2, timeout=8), alerting
    event = _events(client, headers)[0]
    state, attempts = _delivery(app, event["id"])
    assert state == "pending" and attempts >= 2
