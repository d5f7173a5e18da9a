"""Fault tests of the web tier (SPEC 9, 11): PostgreSQL or Redis down, stopped or unreachable.

Each test runs gunicorn (the repository's gunicorn.conf.py) against a PostgreSQL and a Redis
of its own (tests/fault_servers.py) so that it can stop them, drives a bounded load from
threads, and prints its figures: requests, answers by status, longest answer time.
"""

import collections
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest

from scripts.services import ROOT
from tests.fault_servers import Blackhole, OwnPostgres, OwnRedis, IsolatedHost
from tests.web_server import running_gunicorn, stop

# SPEC 11's bounds, in seconds.
DOWN_ANSWER_S = 5
READY_ANSWER_S = 3


@pytest.fixture(scope="module")
def own_services():
    """A PostgreSQL and a Redis of this module's own, running, with the schema migrated."""
    postgres, redis_server = OwnPostgres(), OwnRedis()
    try:
        postgres.start()
        redis_server.start()
        env = _service_env(postgres.url, redis_server.url)
        subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        tokens = {role: _flask_token(env, role) for role in ("user", "admin")}
        yield postgres, redis_server, env, tokens
    finally:
        redis_server.close()
        postgres.close()


def _service_env(database_url, redis_url, **extra):
    return {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": database_url,
            "REDIS_URL": redis_url, "SECRET_KEY": "fault-test-secret", "WEB_ACCESS_LOG": "",
            "REDIS_KEY_PREFIX": "", **extra}


def _flask_token(env, role):
    args = ["users", "create", f"{role}-{uuid.uuid4().hex[:8]}@example.com"]
    if role == "admin":
        args.append("--admin")
    out = subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    return {"Authorization": f"Bearer {out.strip().splitlines()[-1]}"}


def _call(port, method, path, headers=None, body=None, timeout=15):
    """(status, headers, JSON body or None, seconds); status "dropped" if the connection broke."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {**(headers or {}), **({"Content-Type": "application/json"} if data else {})}
        conn.request(method, path, body=data, headers=all_headers)
        response = conn.getresponse()
        raw = response.read()
        parsed = json.loads(raw) if response.getheader("Content-Type") == "application/json" else None
        return response.status, dict(response.getheaders()), parsed, time.monotonic() - started
    except (OSError, http.client.HTTPException):
        return "dropped", {}, None, time.monotonic() - started
    finally:
        conn.close()


def _pg_routes(tokens):
    """Every kind of route that needs PostgreSQL, as (method, path, headers, body)."""
    user, admin = tokens["user"], tokens["admin"]
    return [
        ("GET", "/me", user, None),
        ("GET", "/workouts", user, None),
        ("GET", "/workouts/1", user, None),
        ("GET", "/training-plans/1", user, None),
        ("GET", f"/jobs/{uuid.uuid4()}", user, None),
        ("GET", "/llm-logs/my-logs", user, None),
        ("GET", "/llm-logs/my-summary", user, None),
        ("GET", "/llm-logs/1", user, None),
        ("GET", "/llm-logs/", admin, None),
        ("GET", "/llm-logs/stats/top-users", admin, None),
        ("GET", "/llm-logs/stats/endpoint-latency", admin, None),
        ("GET", "/llm-logs/stats/error-rates", admin, None),
        ("POST", "/llm/create-workout", user, {"prompt": "legs"}),
        ("POST", "/llm/create-training-principles", user,
         {"name": "Block", "goal": "Strength", "experience_level": "beginner",
          "sessions_per_week": 3, "weeks": 4}),
        ("POST", "/workouts/1/revise", user, {"feedback": "shorter"}),
        ("POST", "/workouts/1/revise/accept", user, {}),
    ]


def _load(port, routes, seconds, threads=6):
    """Call the routes round-robin from threads for `seconds`; return every answer."""
    answers, lock = [], threading.Lock()
    deadline = time.monotonic() + seconds

    def run(offset):
        i = offset
        while time.monotonic() < deadline:
            method, path, headers, body = routes[i % len(routes)]
            status, response_headers, parsed, took = _call(port, method, path, headers, body)
            with lock:
                answers.append((method, path, status, response_headers, parsed, took))
            i += 1

    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return answers


def _figures(name, answers):
    by_status = collections.Counter(status for _, _, status, *_ in answers)
    longest = max(took for *_, took in answers)
    print(f"\n[{name}] requests: {len(answers)}, answers by status: {dict(by_status)}, "
          f"longest: {longest:.2f} s")
    return by_status, longest


def _assert_all_503(answers):
    for method, path, status, headers, body, took in answers:
        assert status == 503, (method, path, status, body)
        assert body["error"]["code"] == "service_unavailable", (method, path, body)
        assert int(headers["Retry-After"]) >= 1
        assert took < DOWN_ANSWER_S, (method, path, took)


def _ready(port):
    status, _, body, took = _call(port, "GET", "/readyz")
    assert took < READY_ANSWER_S, took
    return status, body["checks"]


def _wait_for_recovery(port, token, within_s):
    """Wait until GET /me answers 200 again, at most `within_s` seconds; return when the
    wait began (time.monotonic)."""
    back_at = time.monotonic()
    while _call(port, "GET", "/me", token)[0] != 200:
        assert time.monotonic() - back_at < within_s, "no recovery"
        time.sleep(0.2)
    return back_at


def test_postgresql_stopped_every_route_503_then_recovers(own_services):
    postgres, redis_server, env, tokens = own_services
    routes = _pg_routes(tokens)
    with running_gunicorn(env, "--workers", "2", "--threads", "8") as served:
        warm = _load(served.port, routes, seconds=1, threads=2)
        assert all(isinstance(status, int) and status < 500 for _, _, status, *_ in warm), warm
        assert _ready(served.port) == (200, {"postgresql": "ok", "redis": "ok"})
        log_before = len(served.log_text())
        postgres.stop()
        try:
            down = _load(served.port, routes, seconds=6)
            _figures("PostgreSQL stopped", down)
            _assert_all_503(down)
            assert _call(served.port, "GET", "/healthz")[0] == 200
            assert _ready(served.port) == (503, {"postgresql": "down", "redis": "ok"})
            log = served.log_text()[log_before:]
            assert "Traceback" not in log
            assert log.count("PostgreSQL unavailable") >= len(down) // 2
        finally:
            postgres.start()
        back_at = _wait_for_recovery(served.port, tokens["user"], within_s=15)
        recovered = _load(served.port, routes, seconds=1, threads=2)
        _figures(f"PostgreSQL back, recovered in {time.monotonic() - back_at:.1f} s", recovered)
        assert all(isinstance(status, int) and status < 500 for _, _, status, *_ in recovered)
        assert _ready(served.port)[0] == 200


def test_postgresql_unreachable_every_route_503_within_5_s(own_services):
    _, redis_server, env, tokens = own_services
    blackhole = Blackhole()
    try:
        unreachable = f"postgresql://postgres@127.0.0.1:{blackhole.port}/postgres"
        with running_gunicorn(_service_env(unreachable, redis_server.url),
                              "--workers", "2", "--threads", "8") as served:
            answers = _load(served.port, _pg_routes(tokens), seconds=6)
            _figures("PostgreSQL unreachable (packets dropped)", answers)
            _assert_all_503(answers)
            assert _ready(served.port) == (503, {"postgresql": "down", "redis": "ok"})
            assert "Traceback" not in served.log_text()
    finally:
        blackhole.close()


@pytest.mark.skipif(not IsolatedHost.available(), reason="needs root to make a network namespace")
def test_postgresql_cut_off_with_connections_open_503_within_5_s_then_recovers(own_services):
    """PostgreSQL on a host of its own whose link is cut: the open connections' packets are
    dropped, not refused (bounded by tcp_user_timeout, then the connect timeout)."""
    _, redis_server, _, _ = own_services
    host = IsolatedHost()
    postgres = None
    try:
        postgres = OwnPostgres(host)
        postgres.start()
        env = _service_env(postgres.url, redis_server.url)
        subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        tokens = {role: _flask_token(env, role) for role in ("user", "admin")}
        routes = _pg_routes(tokens)
        with running_gunicorn(env, "--workers", "2", "--threads", "8") as served:
            warm = _load(served.port, routes, seconds=2)  # every thread holds connections
            assert all(isinstance(status, int) and status < 500 for _, _, status, *_ in warm)
            host.cut()
            try:
                down = _load(served.port, routes, seconds=8)
                _figures("PostgreSQL cut off, connections open (packets dropped)", down)
                _assert_all_503(down)
                assert _ready(served.port) == (503, {"postgresql": "down", "redis": "ok"})
                assert "Traceback" not in served.log_text()
            finally:
                host.mend()
            back_at = _wait_for_recovery(served.port, tokens["user"], within_s=30)
            print(f"[PostgreSQL reachable again] recovered in {time.monotonic() - back_at:.1f} s")
    finally:
        if postgres is not None:
            postgres.close()
        host.close()


def _submit_while(port, tokens, count):
    answers = []
    for n in range(count):
        answers.append(("POST", "/llm/create-workout",
                        *_call(port, "POST", "/llm/create-workout", tokens["user"],
                               {"prompt": f"legs {n}"})))
    return answers


def _assert_accepted_quickly(answers):
    for _, _, status, headers, body, took in answers:
        assert status == 202, (status, body)
        assert headers["Location"] == body["status_url"]
        assert took < DOWN_ANSWER_S, took


def test_redis_stopped_at_submit_202_and_the_job_runs_once_redis_is_back(own_services, fake_llm):
    postgres, redis_server, env, tokens = own_services
    fake_llm.reset()
    worker_env = _service_env(postgres.url, redis_server.url, OPENAI_BASE_URL=fake_llm.url,
                              OPENAI_API_KEY="test-key", JOB_RESEND_AFTER_S="2",
                              JOB_SWEEP_INTERVAL_S="1", WORKER_CONCURRENCY="4")
    with running_gunicorn(worker_env, "--workers", "1", "--threads", "8") as served:
        redis_server.stop()
        try:
            answers = _submit_while(served.port, tokens, 6)
            _figures("Redis stopped at submit", answers)
            _assert_accepted_quickly(answers)
            ready = _ready(served.port)
            assert ready == (503, {"postgresql": "ok", "redis": "down"})
            for _, _, _, _, body, _ in answers:  # stored, and reads keep working
                status, _, job, _ = _call(served.port, "GET", body["status_url"], tokens["user"])
                assert (status, job["status"]) == (200, "queued")
        finally:
            redis_server.start()
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--loglevel", "WARNING"],
            cwd=ROOT, env=worker_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            started = time.monotonic()
            pending = {body["status_url"] for *_, body, _ in answers}
            while pending:
                assert time.monotonic() - started < 60, f"still not run: {pending}"
                for url in list(pending):
                    job = _call(served.port, "GET", url, tokens["user"])[2]
                    if job["status"] in ("succeeded", "failed"):
                        assert job["status"] == "succeeded", job
                        pending.discard(url)
                time.sleep(0.5)
            print(f"[Redis back] all {len(answers)} jobs succeeded "
                  f"{time.monotonic() - started:.1f} s after a worker started")
        finally:
            stop(worker, timeout=20)


def test_redis_unreachable_at_submit_202_within_5_s(own_services):
    postgres, _, env, tokens = own_services
    blackhole = Blackhole()
    try:
        unreachable = f"redis://127.0.0.1:{blackhole.port}/0"
        with running_gunicorn(_service_env(postgres.url, unreachable),
                              "--workers", "1", "--threads", "8") as served:
            answers = _submit_while(served.port, tokens, 3)
            _figures("Redis unreachable (packets dropped) at submit", answers)
            _assert_accepted_quickly(answers)
            assert _ready(served.port) == (503, {"postgresql": "ok", "redis": "down"})
            reads = _load(served.port, [("GET", "/me", tokens["user"], None)], seconds=1,
                          threads=2)
            assert all(status == 200 for _, _, status, *_ in reads)
    finally:
        blackhole.close()


@pytest.mark.skipif(not IsolatedHost.available(), reason="needs root to make a network namespace")
def test_redis_cut_off_with_connections_open_at_submit_202_within_5_s(own_services):
    """Redis on a host of its own whose link is cut after the broker connection is open."""
    postgres, _, _, tokens = own_services
    host = IsolatedHost()
    redis_server = OwnRedis(host)
    try:
        redis_server.start()
        with running_gunicorn(_service_env(postgres.url, redis_server.url),
                              "--workers", "1", "--threads", "8") as served:
            _assert_accepted_quickly(_submit_while(served.port, tokens, 3))  # connections open
            host.cut()
            try:
                answers = _submit_while(served.port, tokens, 4)
                _figures("Redis cut off, connections open, at submit", answers)
                _assert_accepted_quickly(answers)
                assert _ready(served.port) == (503, {"postgresql": "ok", "redis": "down"})
            finally:
                host.mend()
    finally:
        redis_server.stop()
        host.close()
