"""P2: how many jobs per second the whole pipeline runs, next to a no-op Celery task.

The pipeline is the real one: POST /llm/create-workout (the Flask app's test client in
this process) stores a job and enqueues it on Redis; a real worker subprocess claims it,
calls the LLM (a local OpenAI-compatible server in this process, answering at once),
stores the workout and the job's result, and writes the call's llm_call_logs row. The
baseline is a task that does nothing but INCR a Redis counter, sent to the same worker
process, so it has the same pool, concurrency, broker and Celery settings:

    .venv/bin/python bench/pipeline_throughput.py            # 2000 jobs
    .venv/bin/python bench/pipeline_throughput.py --small    # 300 jobs

The worker is `python -m celery -A bench.pipeline_throughput:noop_celery worker ...`: the
service's own Celery app (this module imports `tasks` for it) with one more task,
`bench.noop`. Each phase sends its N messages as fast as the submitter threads go, and its
rate is N over the wall time from the first send to the last one done (all jobs ended and
their log rows written; the counter at N). Completion is watched in the database and Redis,
not over HTTP, so watching costs next to nothing.

It uses the PostgreSQL of DATABASE_URL and the Redis of REDIS_URL (default: the local
ones), in a scratch database `llmlog_bench_<random>` built by the migrations and a Redis key
prefix of its own; both are removed at the end. It exits 1 if a job did not succeed or did
not write exactly one successful log row; the last line is the figure.

This module also holds the harness that bench/calls_in_flight.py uses.
"""

import argparse
import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
NOOP_TASK = "bench.noop"
PROMPT = "30 minute leg workout, no jumping, dumbbells"
FINISHED = ("succeeded", "failed")


# --- The worker's side: `celery -A bench.pipeline_throughput:noop_celery worker` -------------

def __getattr__(name):
    """Build `noop_celery` on first access only, so importing this module (as the bench
    does when it runs) does not build the service's app."""
    if name != "noop_celery":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import tasks

    counter = redis.Redis.from_url(tasks.flask_app.config["REDIS_URL"])

    @tasks.celery.task(name=NOOP_TASK)
    def noop(counter_key):
        """Do nothing but count, so the bench sees when every task ran."""
        counter.incr(counter_key)

    globals()["noop_celery"] = tasks.celery
    return tasks.celery


# --- The harness, shared with calls_in_flight.py ------------------------------------------


@dataclass
class Stack:
    """What a bench run set up: the web app on the scratch database, the fake LLM, Redis."""

    app: object
    database_url: str
    redis_url: str
    prefix: str
    secret_key: str
    llm: object
    redis: redis.Redis

    def worker_env(self, concurrency=None):
        """The environment of a worker of this run; WORKER_CONCURRENCY only if given."""
        env = {key: value for key, value in os.environ.items() if key != "WORKER_CONCURRENCY"}
        env.update(DATABASE_URL=self.database_url, REDIS_URL=self.redis_url,
                   REDIS_KEY_PREFIX=self.prefix, OPENAI_BASE_URL=self.llm.url,
                   OPENAI_API_KEY="bench", SECRET_KEY=self.secret_key)
        if concurrency is not None:
            env["WORKER_CONCURRENCY"] = str(concurrency)
        return env

    def connect(self):
        """A psycopg connection to the scratch database, autocommit, for cheap reads."""
        return psycopg.connect(make_url(self.database_url).set(drivername="postgresql")
                               .render_as_string(hide_password=False), autocommit=True)


@contextlib.contextmanager
def scratch_stack(llm_delay_s):
    """A scratch database built by the migrations, a Redis prefix, the app and a fake LLM;
    the database is dropped and the prefix's keys deleted at the end, whatever happens."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per LLM request otherwise

    from flask_migrate import upgrade

    from config import Config, database_url
    from scripts.services import admin_url
    from tests.llm_server import FakeLlm
    from webapp import create_app
    from webapp.extensions import db

    run_id = uuid.uuid4().hex[:10]
    server_url = database_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    name = f"llmlog_bench_{run_id}"
    scratch_url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    prefix = f"llmlog-bench-{run_id}:"
    secret_key = f"bench-{run_id}"
    client = redis.Redis.from_url(redis_url)
    admin = admin_url(server_url)
    llm = app = None
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        llm = FakeLlm()
        llm.default_delay_s = llm_delay_s

        class BenchConfig(Config):
            SQLALCHEMY_DATABASE_URI = scratch_url
            REDIS_URL = redis_url
            REDIS_KEY_PREFIX = prefix
            SECRET_KEY = secret_key
            OPENAI_BASE_URL = llm.url
            OPENAI_API_KEY = "bench"

        app = create_app(BenchConfig)
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
        yield Stack(app, scratch_url, redis_url, prefix, secret_key, llm, client)
    finally:
        if llm is not None:
            llm.close()
        if app is not None:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
        client.close()


@dataclass
class Worker:
    """A worker subprocess and the file its stderr goes to."""

    process: subprocess.Popen
    stderr_path: str
    pool_size: int = None
    keep_log: bool = False  # kept for a look when something went wrong, else deleted

    def alive(self):
        return self.process.poll() is None

    def cpu_s(self):
        """CPU seconds (user + system) the worker process used so far."""
        return process_cpu_s(self.process.pid)

    def log_text(self):
        with open(self.stderr_path, errors="replace") as log_file:
            return log_file.read()

    def problems(self):
        """The worker's lines that report an error or a traceback."""
        pattern = re.compile(r"ERROR|CRITICAL|Traceback|Exception")
        problems = [line for line in self.log_text().splitlines() if pattern.search(line)]
        self.keep_log = self.keep_log or bool(problems)
        return problems

    def show_log(self, lines=60):
        self.keep_log = True
        text = self.log_text().splitlines()
        print(f"--- worker stderr ({self.stderr_path}), last {min(lines, len(text))} "
              f"of {len(text)} lines ---", file=sys.stderr)
        for line in text[-lines:]:
            print(line, file=sys.stderr)


@contextlib.contextmanager
def running_worker(stack, app_spec="tasks", concurrency=None, ready_timeout=60, pool=None):
    """Start `python -m celery -A <app_spec> worker ...` for this run (with `-P pool` if one is
    named) and wait until it answers; yield it with the pool size it reports; kill its process
    group at the end."""
    stderr = tempfile.NamedTemporaryFile("w", prefix="bench-worker-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", app_spec, "worker",
         "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
         *(["-P", pool] if pool else [])],
        cwd=ROOT, env=stack.worker_env(concurrency), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=stderr,
    )
    stderr.close()
    worker = Worker(process, stderr.name)
    try:
        worker.pool_size = _wait_until_ready(stack, worker, ready_timeout)
        yield worker
    except BaseException:
        worker.keep_log = True
        raise
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if worker.keep_log:
            print(f"worker stderr kept in {worker.stderr_path}", file=sys.stderr)
        else:
            os.unlink(worker.stderr_path)


def _wait_until_ready(stack, worker, timeout):
    """Ask the worker for its stats until it answers; return its pool's concurrency."""
    control = stack.app.extensions["celery"].control
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not worker.alive():
            worker.show_log()
            raise SystemExit(f"the worker exited with {worker.process.returncode} at start")
        stats = control.inspect(timeout=1.0).stats() or {}
        for answer in stats.values():
            return answer.get("pool", {}).get("max-concurrency")
    worker.show_log()
    raise SystemExit(f"the worker did not answer within {timeout} s")


def process_cpu_s(pid):
    """CPU seconds (user + system) a process used so far; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:  # gone (FileNotFoundError, or ProcessLookupError mid-read)
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_s():
    """CPU seconds all of this machine's processors spent busy (not idle or waiting on I/O)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def machine_busy(seconds=1.0):
    """The share of this machine's CPUs busy over the next `seconds`."""
    start = machine_cpu_s()
    time.sleep(seconds)
    return (machine_cpu_s() - start) / (seconds * os.cpu_count())


def _postgres_backends(database):
    """CPU seconds of each PostgreSQL backend serving `database` on this machine, by pid
    (found by their process titles, `postgres: [<cluster>:] <user> <database> ...`)."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                title = cmdline.read().split(b"\0")[0].split()
        except OSError:
            continue
        if title[:1] == [b"postgres:"] and database in title[1:4]:
            found[int(entry.name)] = process_cpu_s(entry.name)
    return found


@dataclass
class Cpu:
    """CPU seconds used during a measure, by whom; the machine's busy share; and how many
    PostgreSQL sessions were opened on the scratch database meanwhile."""

    worker: float
    bench: float
    postgres: float
    rest: float
    machine_busy: float
    sessions: int


class CpuMeter:
    """CPU used since it was made by the worker, this process, the PostgreSQL backends of
    the scratch database (sampled every 0.2 s, so a backend that lived less is missed) and
    the rest of the machine (Redis, and whatever else runs on it)."""

    def __init__(self, worker, conn):
        self.worker, self.conn = worker, conn
        self.database = conn.info.dbname.encode()
        self.sessions = self._sessions()
        self.first = _postgres_backends(self.database)
        self.last = dict(self.first)
        self.stop = threading.Event()
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()
        self.start = (worker.cpu_s(), time.process_time(), machine_cpu_s(), time.monotonic())

    def _sessions(self):
        return self.conn.execute("SELECT sessions FROM pg_stat_database"
                                 " WHERE datname = current_database()").fetchone()[0]

    def _sample(self):
        while not self.stop.wait(0.2):
            self.last.update(_postgres_backends(self.database))

    def read(self):
        now = (self.worker.cpu_s(), time.process_time(), machine_cpu_s(), time.monotonic())
        self.stop.set()
        self.sampler.join()
        self.last.update(_postgres_backends(self.database))
        postgres = sum(cpu - self.first.get(pid, 0.0) for pid, cpu in self.last.items())
        worker, bench, machine, wall = (b - a for a, b in zip(self.start, now))
        return Cpu(worker, bench, postgres, machine - worker - bench - postgres,
                   machine / (wall * os.cpu_count()), self._sessions() - self.sessions)


def make_user(app):
    """A user with a fresh token, the way tests/conftest.py's Auth makes one; its headers."""
    from webapp.extensions import db
    from webapp.models import ApiToken, User

    with app.app_context():
        user = User(email=f"bench-{uuid.uuid4().hex[:12]}@example.com", role="user")
        db.session.add(user)
        token = ApiToken.issue(user)
        db.session.commit()
        return {"Authorization": f"Bearer {token}", "User-Agent": "llmlog-bench/1.0"}


def in_threads(count, threads, send):
    """Call send(client_or_none) `count` times spread over `threads` threads; return the
    results in no particular order."""
    results, errors = [], []
    shares = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]

    def run(share):
        try:
            state = {}
            for _ in range(share):
                results.append(send(state))
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(share,)) for share in shares if share]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise errors[0]
    return results


def submit_jobs(app, headers, count, threads):
    """POST /llm/create-workout `count` times from `threads` threads (a test client each);
    return the job ids."""

    def send(state):
        client = state.setdefault("client", app.test_client())
        response = client.post("/llm/create-workout", json={"prompt": PROMPT}, headers=headers)
        if response.status_code != 202:
            raise RuntimeError(f"POST /llm/create-workout answered {response.status_code}: "
                               f"{response.get_data(as_text=True)[:500]}")
        return response.get_json()["job_id"]

    return in_threads(count, threads, send)


def wait_for(done, worker, timeout, what, interval=0.02):
    """Poll done() until it is true; fail if the worker exits or the time runs out."""
    deadline = time.monotonic() + timeout
    while not done():
        if not worker.alive():
            worker.show_log()
            raise SystemExit(f"the worker exited with {worker.process.returncode} while {what}")
        if time.monotonic() > deadline:
            worker.show_log()
            raise SystemExit(f"timed out after {timeout} s while {what}")
        time.sleep(interval)
    return time.monotonic()


def jobs_done(conn, expected):
    """A done() for wait_for: `expected` jobs in the table have ended and written their
    log rows."""

    def done():
        ended, logged = conn.execute(
            "SELECT (SELECT count(*) FROM llm_jobs WHERE status IN ('succeeded', 'failed')),"
            "       (SELECT count(*) FROM llm_call_logs)").fetchone()
        return ended >= expected and logged >= expected

    return done


def job_timings(conn, job_ids):
    """Per job: seconds from created to finished, and the window's bounds (first started,
    last finished) as epoch seconds."""
    rows = conn.execute(
        "SELECT extract(epoch FROM finished_at - created_at)::float8,"
        "       extract(epoch FROM started_at)::float8, extract(epoch FROM finished_at)::float8"
        "  FROM llm_jobs WHERE id = ANY(%s::uuid[])", (list(job_ids),)).fetchall()
    latencies = sorted(row[0] for row in rows if row[0] is not None)
    started = [row[1] for row in rows if row[1] is not None]
    finished = [row[2] for row in rows if row[2] is not None]
    return latencies, min(started), max(finished)


def check_jobs(conn):
    """Every job succeeded with exactly one log row, a successful one; return the problems."""
    rows = conn.execute(
        "SELECT j.id, j.status, j.error::text,"
        "       count(l.id) FILTER (WHERE l.success), count(l.id)"
        "  FROM llm_jobs j LEFT JOIN llm_call_logs l ON l.job_id = j.id"
        " GROUP BY j.id, j.status, j.error::text").fetchall()
    bad = [row for row in rows if row[1] != "succeeded" or row[3] != 1 or row[4] != 1]
    return len(rows), bad


def percentile(sorted_values, fraction):
    """The nearest-rank percentile of sorted values."""
    if not sorted_values:
        return float("nan")
    index = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def print_table(rows, headers):
    """A plain text table, columns sized to their content."""
    cells = [[str(value) for value in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for number, row in enumerate(cells):
        print("  ".join(value.ljust(widths[i]) if i == 0 else value.rjust(widths[i])
                        for i, value in enumerate(row)))
        if number == 0:
            print("  ".join("-" * width for width in widths))


def report_check(bad, checked, worker):
    """Print whether every job succeeded with one log row, and the worker's errors; on a
    failure also the worker's log."""
    if bad:
        print(f"check: FAILED, {len(bad)} of {checked} jobs did not succeed with exactly one "
              f"successful log row; the first ones (id, status, error, ok rows, rows):")
        for row in bad[:10]:
            print(f"  {row}")
    else:
        print(f"check: all {checked} jobs succeeded, each with exactly one log row, "
              f"success=true")
    report_worker_problems(worker)
    if bad:
        worker.show_log()


def report_worker_problems(worker):
    """Print the worker's error lines, if any."""
    problems = worker.problems()
    if problems:
        print(f"worker stderr: {len(problems)} error line(s) (all in {worker.stderr_path}), "
              f"the first ones:")
        for line in problems[:10]:
            print(f"  {line[:300]}")
    else:
        print("worker stderr: no errors")


# --- P2 ------------------------------------------------------------------------------------


@dataclass
class Phase:
    """One measured phase: how many, how long, and the CPU it took where."""

    name: str
    count: int
    send_s: float
    wall_s: float
    cpu: Cpu

    @property
    def rate(self):
        return self.count / self.wall_s

    def row(self):
        each = 1000 / self.count
        cpu = self.cpu
        return [self.name, self.count, f"{self.send_s:.2f}", f"{self.count / self.send_s:.1f}",
                f"{self.wall_s:.2f}", f"{self.rate:.1f}", f"{100 * cpu.worker / self.wall_s:.0f}%",
                f"{each * cpu.worker:.2f}", f"{each * cpu.bench:.2f}", f"{each * cpu.postgres:.2f}",
                f"{each * cpu.rest:.2f}", f"{100 * cpu.machine_busy:.0f}%", cpu.sessions]


PHASE_HEADERS = ["phase", "n", "send s", "sent/s", "wall s", "done/s", "worker CPU",
                 "CPU ms/each: worker", "bench", "postgres", "rest", "machine busy",
                 "pg sessions opened"]
CPU_NOTE = ("CPU ms/each: the worker process; this process (submitting, serving the LLM); the "
            "PostgreSQL backends of the scratch database; the rest of the machine (Redis and "
            "whatever else runs here)")


def _measure(name, count, worker, conn, send_all, done, timeout, what):
    meter = CpuMeter(worker, conn)
    start = time.monotonic()
    result = send_all()
    sent = time.monotonic()
    end = wait_for(done, worker, timeout, what)
    return result, Phase(name, count, sent - start, end - start, meter.read())


def run_noop(stack, worker, conn, count, threads):
    """Send `count` bench.noop tasks and wait until all ran; return the Phase."""
    celery = stack.app.extensions["celery"]
    key = f"{stack.prefix}bench:noop-done:{uuid.uuid4().hex[:6]}"

    def send(_state):
        celery.send_task(NOOP_TASK, args=[key])

    def done():
        return int(stack.redis.get(key) or 0) >= count

    _, phase = _measure("no-op task", count, worker, conn, lambda: in_threads(count, threads, send),
                        done, timeout=max(60, count / 20), what="waiting for the no-op tasks")
    return phase


def run_pipeline(stack, worker, conn, headers, count, threads, already):
    """Submit `count` jobs over HTTP and wait until all ended with their log rows; return the
    Phase and the job ids."""
    job_ids, phase = _measure(
        "pipeline job", count, worker, conn, lambda: submit_jobs(stack.app, headers, count, threads),
        jobs_done(conn, already + count), timeout=max(120, count / 5),
        what="waiting for the jobs")
    return phase, job_ids


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="300 jobs instead of 2000")
    parser.add_argument("--jobs", type=int, help="jobs (and no-op tasks) per phase")
    parser.add_argument("--concurrency", type=int, default=200, help="WORKER_CONCURRENCY")
    parser.add_argument("--submitters", type=int, default=4,
                        help="threads of this process that send the messages")
    parser.add_argument("--warmup", type=int, default=50,
                        help="jobs and no-op tasks run first and not measured")
    args = parser.parse_args(argv)
    count = args.jobs or (300 if args.small else 2000)

    background = machine_busy()
    with scratch_stack(llm_delay_s=0.0) as stack, \
            running_worker(stack, "bench.pipeline_throughput:noop_celery",
                           concurrency=args.concurrency) as worker, \
            stack.connect() as conn:
        headers = make_user(stack.app)
        print(f"worker pid {worker.process.pid}, threads pool of {worker.pool_size}; "
              f"{count} per phase after a warm-up of {args.warmup}; "
              f"{args.submitters} submitter threads; LLM answers at once; machine "
              f"{100 * background:.0f}% busy before the run")

        run_noop(stack, worker, conn, args.warmup, args.submitters)
        run_pipeline(stack, worker, conn, headers, args.warmup, args.submitters, already=0)
        noop = run_noop(stack, worker, conn, count, args.submitters)
        pipeline, job_ids = run_pipeline(stack, worker, conn, headers, count, args.submitters,
                                         already=args.warmup)
        latencies, first_started, last_finished = job_timings(conn, job_ids)
        checked, bad = check_jobs(conn)

        print()
        print_table([p.row() for p in (noop, pipeline)], PHASE_HEADERS)
        print(f"({CPU_NOTE}; {os.cpu_count()} CPUs)")
        print()
        window = last_finished - first_started
        print_table(
            [["job latency (finished - created) p50", f"{1000 * percentile(latencies, 0.5):.0f} ms"],
             ["job latency (finished - created) p95", f"{1000 * percentile(latencies, 0.95):.0f} ms"],
             ["worker window (first started to last finished)",
              f"{window:.2f} s, {count / window:.1f} jobs/s"]],
            ["pipeline", "value"])
        print()
        report_check(bad, checked, worker)
        ratio = pipeline.rate / noop.rate
        print(f"P2 pipeline {pipeline.rate:.1f} jobs/s vs no-op task {noop.rate:.1f} tasks/s: "
              f"{ratio:.2f}x (target >= 0.3x)")
        return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
