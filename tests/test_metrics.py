"""GET /metrics: every family from the start, counts summed across processes, the token."""

import json
import math
import os
import re
import subprocess
import sys
import time
import uuid

import pytest
import redis

from scripts.services import ROOT
from tests.test_operations import PLAN, poll, submit

FAMILIES = ("llm_calls_total", "llm_call_duration_seconds", "llm_tokens_total",
            "llm_cost_usd_total", "llm_jobs_submitted_total", "llm_requests_refused_total",
            "llm_log_write_failures_total", "llm_log_spool_depth", "http_requests_total",
            "llm_log_fields_repaired_total", "llm_alert_webhook_failures_total")


def scrape(client, headers=None):
    response = client.get("/metrics", headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return response.get_data(as_text=True)


def sample(page, name, **labels):
    """The value of one sample on the page (0 when it is absent)."""
    for line in page.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:]+)(?:\{(.*)\})? (\S+)", line)
        if not match or match[1] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match[2] or ""))
        if found == {k: str(v) for k, v in labels.items()}:
            return float(match[3])
    return 0.0


def test_every_family_is_on_the_page_from_the_start(client):
    page = scrape(client)
    for family in FAMILIES:
        assert f"# TYPE {family.removesuffix('_total')}" in page or f"# TYPE {family}" in page
    assert 'llm_requests_refused_total{reason="daily_cost_budget"}' in page
    assert 'llm_calls_total{operation="workout_revision_accept",outcome="error"}' in page
    assert 'llm_tokens_total{kind="reasoning",operation="workout_creation"}' in page
    assert "llm_log_spool_depth 0.0" in page


def test_http_requests_are_counted_by_url_rule(client, auth):
    _, headers = auth.user()
    before = sample(scrape(client), "http_requests_total", method="GET", route="/jobs/<job_id>",
                    status=404)
    client.get(f"/jobs/{uuid.uuid4()}", headers=headers)
    client.get(f"/jobs/{uuid.uuid4()}", headers=headers)
    page = scrape(client)
    assert sample(page, "http_requests_total", method="GET", route="/jobs/<job_id>",
                  status=404) == before + 2
    assert "/jobs/" + "0" not in page  # never a filled-in path


def test_a_metrics_token_protects_the_page(app, client):
    app.config["METRICS_TOKEN"] = "scrape-secret"
    try:
        refused = client.get("/metrics")
        assert refused.status_code == 401
        assert refused.get_json()["error"]["code"] == "unauthorized"
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        page = scrape(client, {"Authorization": "Bearer scrape-secret"})
        assert "llm_calls_total" in page
    finally:
        app.config["METRICS_TOKEN"] = None


@pytest.mark.usefixtures("celery_worker")
def test_calls_and_submits_are_counted(app, client, auth, llm):
    _, headers = auth.user()
    before = scrape(client)
    llm.then(status=500)
    job = poll(client, headers, submit(client, headers, path="/llm/create-training-principles",
                                       body=PLAN).get_json()["job_id"])
    assert job["status"] == "succeeded"
    time.sleep(0.2)  # the success row trails the job by a moment
    after = scrape(client)
    op = "training_principles_creation"
    assert sample(after, "llm_jobs_submitted_total", operation=op) == \
        sample(before, "llm_jobs_submitted_total", operation=op) + 1
    for outcome in ("success", "error"):
        assert sample(after, "llm_calls_total", operation=op, outcome=outcome) == \
            sample(before, "llm_calls_total", operation=op, outcome=outcome) + 1
    assert sample(after, "llm_call_duration_seconds_count", operation=op) == \
        sample(before, "llm_call_duration_seconds_count", operation=op) + 2
    assert sample(after, "llm_tokens_total", operation=op, kind="prompt") > \
        sample(before, "llm_tokens_total", operation=op, kind="prompt")


@pytest.fixture
def worker_process(app, config_class, fake_llm):
    """A real `celery -A tasks worker` process on a Redis prefix of its own, and a web app
    that sends it jobs; yields (web app, the process, its stderr file)."""
    from webapp import create_app

    prefix = f"{config_class.REDIS_KEY_PREFIX}proc-{uuid.uuid4().hex[:6]}:"

    class ProcessConfig(config_class):
        REDIS_KEY_PREFIX = prefix

    env = {**os.environ,
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "REDIS_URL": app.config["REDIS_URL"], "REDIS_KEY_PREFIX": prefix,
           "OPENAI_BASE_URL": fake_llm.url, "OPENAI_API_KEY": "test-key-7d1e",
           "PROMETHEUS_MULTIPROC_DIR": app.config["METRICS_DIR"],
           "WORKER_CONCURRENCY": "4", "JOB_SWEEP_INTERVAL_S": "3600", "LLM_MAX_RETRIES": "0"}
    stderr = open(app.config["METRICS_DIR"] + f"/../worker-{prefix[-7:-1]}.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    web = create_app(ProcessConfig)
    try:
        yield web, process, stderr
    finally:
        process.terminate()
        process.wait(timeout=20)
        stderr.close()
        client = redis.Redis.from_url(app.config["REDIS_URL"])
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)


def test_a_worker_process_counts_on_the_web_page_and_logs_json(worker_process, auth, llm):
    web, process, stderr = worker_process
    client = web.test_client()
    _, headers = auth.user()
    before = scrape(client)
    response = submit(client, headers, path="/llm/create-training-principles",
                      body={**PLAN, "health_notes": "asthma-secret-51"},
                      extra_headers={"X-Request-ID": "proc-trace-1"})
    job_id = response.get_json()["job_id"]
    assert poll(client, headers, job_id, timeout=60)["status"] == "succeeded"
    op = "training_principles_creation"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        after = scrape(client)
        if sample(after, "llm_calls_total", operation=op, outcome="success") > \
                sample(before, "llm_calls_total", operation=op, outcome="success"):
            break
        time.sleep(0.1)
    # The call was made and counted in the worker process only, and read here.
    assert sample(after, "llm_calls_total", operation=op, outcome="success") == \
        sample(before, "llm_calls_total", operation=op, outcome="success") + 1
    assert any(name.endswith(f"_{process.pid}.db")
               for name in os.listdir(web.config["METRICS_DIR"]))

    stderr.flush()
    stderr.seek(0)
    text = stderr.read()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert lines, "the worker logged nothing"
    assert any(line.get("job_id") == job_id and line.get("request_id") == "proc-trace-1"
               for line in lines), text[-2000:]
    for secret in ("asthma-secret-51", "test-key-7d1e", headers["Authorization"].split()[1]):
        assert secret not in text


def test_files_of_dead_processes_are_folded_into_an_archive_keeping_their_counts(app, client):
    import shutil

    from webapp import metrics

    path = app.config["METRICS_DIR"]
    dead_pid = 4194000 + os.getpid() % 100  # above any pid this host hands out by default
    shutil.copy(f"{path}/counter_{os.getpid()}.db", f"{path}/counter_{dead_pid}.db")
    doubled = sample(scrape(client), "http_requests_total", method="GET", route="/metrics",
                     status=200)
    metrics._compact_dead_processes(path)
    assert not os.path.exists(f"{path}/counter_{dead_pid}.db")
    assert os.path.exists(f"{path}/counter_archive.db")
    assert sample(scrape(client), "http_requests_total", method="GET", route="/metrics",
                  status=200) == doubled + 1


def test_a_field_cut_to_fit_its_column_is_counted(app, client):
    from webapp.models import LlmCallLog
    from webapp.services.llm_logging_service import log_workout_creation

    before = sample(scrape(client), "llm_log_fields_repaired_total", field="model")
    with app.app_context():
        with log_workout_creation("u-metrics", {"prompt": "legs"}) as call:
            call.set_fields(model="m" * 300)
        stored = LlmCallLog.query.filter_by(user_id="u-metrics").one()
    assert stored.model == "m" * 128
    assert sample(scrape(client), "llm_log_fields_repaired_total", field="model") == before + 1


def test_a_failed_webhook_delivery_is_counted(app, client):
    import socket

    from webapp import metrics
    from webapp.services import alert_webhooks, alerts

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: the connection is refused
    before = sample(scrape(client), "llm_alert_webhook_failures_total")
    with app.app_context():
        alerts.create_rule("any", "calls", 5, -1, webhook_url=f"http://127.0.0.1:{port}/x")
        alerts.evaluate_every_rule()
        [event] = alert_webhooks.claim_due(8)
        assert alert_webhooks.deliver(event, on_failure=metrics.record_webhook_failure) is False
    assert sample(scrape(client), "llm_alert_webhook_failures_total") == before + 1


def test_the_spool_depth_counts_rows_waiting_in_the_local_spool_file_too(
        app, client, monkeypatch, tmp_path):
    """With Redis down when they were spooled, rows wait on file: the gauge still shows them,
    and the rows a drainer holds in Redis' processing list count as waiting too."""
    from webapp.services import log_spool, log_spool_file

    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    row = {"call_id": str(uuid.uuid4()), "user_id": "u", "endpoint_name": "llm/create-workout",
           "method": "POST", "timestamp": "2026-11-30 01:00:00+00:00", "success": True}
    with app.app_context():
        log_spool_file.append(log_spool.encode(row))
        log_spool_file.append(log_spool.encode({**row, "call_id": str(uuid.uuid4())}))
        redis.Redis.from_url(app.config["REDIS_URL"]).rpush(
            log_spool._key(":processing"), log_spool.encode({**row, "call_id": str(uuid.uuid4())}))
    assert sample(scrape(client), "llm_log_spool_depth") == 3


def test_an_unreadable_spool_file_makes_the_depth_unknown_not_the_page_fail(
        app, client, monkeypatch, tmp_path):
    from webapp.services import log_spool_file

    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    with app.app_context():
        os.makedirs(log_spool_file.path())  # a directory where the spool file should be
    assert math.isnan(sample(scrape(client), "llm_log_spool_depth"))
