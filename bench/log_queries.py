"""Do the log routes' queries use an index on a big table, and do deep keyset pages stay cheap?

Creates a scratch database on the PostgreSQL server of DATABASE_URL (default: the local one),
builds the schema with the app's migrations, fills llm_call_logs with --rows generated rows
(INSERT ... SELECT generate_series), runs the services behind every listing, summary and
analytics route, and for each SQL statement they send prints its EXPLAIN ANALYZE plan shape and
timings. Then it compares the first page of each listing with a deep keyset page (and a deep
OFFSET page, for contrast). The scratch database is dropped at the end.

    .venv/bin/python bench/log_queries.py [--rows 1000000] [--users 2000] [--runs 15]

Exits 1 if a listing or summary statement does not use an index, or a deep keyset page reads
more than --max-ratio times the buffers of the first page (buffers, because wall-clock times
of sub-millisecond queries are noisy; both are printed).
"""

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from config import TestConfig, database_url  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
INDEX_NODES = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}

# Endpoints with their operation type and their share of the calls.
ENDPOINTS = [
    ("llm/create-workout", "workout_creation", 0.45),
    ("workouts/{workout_id}/revise", "workout_revision", 0.30),
    ("llm/create-training-principles", "training_principles_creation", 0.15),
    ("workouts/{workout_id}/revise/accept", "workout_revision_accept", 0.10),
]

FILL_SQL = """
INSERT INTO llm_call_logs (
    user_id, endpoint_name, method, timestamp, duration_ms, success, http_status_code,
    error_message, error_type, request_data, response_summary, llm_operation_type, workout_id,
    user_agent, ip_address, model, prompt_tokens, completion_tokens, total_tokens, cost_usd,
    queue_wait_ms, attempt)
SELECT
    -- a few heavy users and a long tail: user k gets a share falling off like 1/k^2
    md5('user-' || floor(:users * power(r.u, 2))::int)::uuid::text,
    e.endpoint_name, 'POST',
    -- a log is written in time order, give or take concurrent writers: row g is (rows - g)/rows
    -- of the span old, with a jitter of about an hour
    now() - ((:rows - g)::float8 / :rows + (r.age - 0.5) * 0.0005) * make_interval(days => :days),
    CASE WHEN r.d < 0.02 THEN NULL ELSE 200 + floor(r.d * 6000)::int END,
    r.ok >= 0.05,
    CASE WHEN r.ok >= 0.05 THEN 200 WHEN r.ok < 0.02 THEN 429 ELSE 504 END,
    CASE WHEN r.ok >= 0.05 THEN NULL ELSE 'upstream said no' END,
    CASE WHEN r.ok >= 0.05 THEN NULL WHEN r.ok < 0.02 THEN 'RateLimitError'
         ELSE 'APITimeoutError' END,
    '{"prompt": "a leg day with kettlebells"}'::jsonb,
    CASE WHEN r.ok >= 0.05 THEN 'Created workout 1 "Leg day" with 6 exercises' END,
    e.llm_operation_type, g % 100000, 'bench/1.0', '203.0.113.7', 'gpt-4o-mini',
    400, 600, 1000, 0.000420, floor(r.d * 50)::int, 1
FROM generate_series(1, :rows) AS g
CROSS JOIN LATERAL (
    SELECT random() AS u, random() AS age, random() AS d, random() AS ok, random() AS pick,
           g AS tie  -- makes the subquery run once per row
) AS r
JOIN (VALUES {endpoints}) AS e(endpoint_name, llm_operation_type, lo, hi)
    ON r.pick >= e.lo AND r.pick < e.hi
"""


def main():
    args = _arguments()
    server = database_url(os.environ.get("DATABASE_URL", DEFAULT_SERVER))
    with scratch_database(server) as url:
        app = _app(url)
        with app.app_context():
            _fill(args)
            report = Report(args.runs)
            _bench(app, report, args)
            ok = report.summary(args.max_ratio)
    sys.exit(0 if ok else 1)


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--days", type=int, default=90, help="the span of the rows' timestamps")
    parser.add_argument("--runs", type=int, default=15, help="timed runs per measurement")
    parser.add_argument("--max-ratio", type=float, default=2.0,
                        help="the most buffers a deep keyset page may read relative to the first")
    return parser.parse_args()


@contextmanager
def scratch_database(server_url):
    """A database of our own on the server, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"llmlog_bench_{uuid.uuid4().hex[:10]}"
    admin = make_url(server_url).set(drivername="postgresql", database="postgres")
    admin_dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    print(f"scratch database {name}")
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"dropped {name}")


def _app(url):
    from flask_migrate import upgrade

    from webapp import create_app

    class BenchConfig(TestConfig):
        SQLALCHEMY_DATABASE_URI = url

    app = create_app(BenchConfig)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    return app


def _fill(args):
    from webapp.extensions import db

    bounds, lo = [], 0.0
    for number, (endpoint, operation, share) in enumerate(ENDPOINTS, start=1):
        # The last range is open-ended, so rounding cannot drop a row.
        hi = lo + share if number < len(ENDPOINTS) else 2.0
        bounds.append(f"('{endpoint}', '{operation}', {lo}, {hi})")
        lo = hi
    started = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(text("SELECT setseed(0.4242)"))
        conn.execute(text(FILL_SQL.replace("{endpoints}", ", ".join(bounds))),
                     {"rows": args.rows, "users": args.users, "days": args.days})
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE llm_call_logs"))
        count = conn.execute(text("SELECT count(*) FROM llm_call_logs")).scalar()
        size = conn.execute(
            text("SELECT pg_size_pretty(pg_total_relation_size('llm_call_logs'))")
        ).scalar()
    print(f"filled llm_call_logs: {count:,} rows, {size} with indexes, "
          f"in {time.perf_counter() - started:.1f} s\n")


@dataclass(frozen=True)
class Measurement:
    """A call's median time over the runs, and the shared buffers its statements read."""

    ms: float
    buffers: int


class Report:
    """Runs measurements, explains their SQL, and remembers what to judge at the end."""

    def __init__(self, runs):
        self.runs = runs
        self.missing_index = []
        self.ratios = []

    def measure(self, label, call, *, needs_index=True, runs=None):
        """Time `call` and explain each statement it sends; returns a Measurement."""
        from webapp.extensions import db

        runs = runs or self.runs
        statements = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            statements.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            call()
            db.session.rollback()
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            call()
            timings.append((time.perf_counter() - started) * 1000)
            db.session.rollback()
        median = statistics.median(timings)
        print(f"{label}: {median:.2f} ms (median of {runs})")
        buffers = 0
        for statement, parameters in statements:
            plan = self._explain(statement, parameters)
            nodes = _node_types(plan["Plan"])
            uses_index = bool(INDEX_NODES & {node.split(" using ")[0] for node in nodes})
            if needs_index and not uses_index:
                self.missing_index.append(f"{label}: {_first_line(statement)}")
            top = plan["Plan"]
            used = top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
            buffers += used
            print(f"    {_first_line(statement)}")
            print(f"      plan: {' > '.join(nodes)}")
            print(f"      execution {plan['Execution Time']:.2f} ms, {used} shared buffers"
                  f"{'' if uses_index or not needs_index else '   <-- NO INDEX'}")
        return Measurement(median, buffers)

    def compare(self, label, first, deep, judged=True):
        """Print deep/first in time and in buffers read; judge the buffers (timings are noisy)."""
        by_time = deep.ms / first.ms if first.ms else float("inf")
        by_buffers = deep.buffers / first.buffers if first.buffers else float("inf")
        print(f"  deep/first {label}: {by_time:.2f} in time, {by_buffers:.2f} in buffers read\n")
        if judged:
            self.ratios.append((label, by_time, by_buffers))

    def summary(self, max_ratio):
        """Print the verdict; True if every statement used an index and every ratio is in bound."""
        print("=" * 78)
        ok = True
        if self.missing_index:
            ok = False
            print("Statements without an index:")
            for line in self.missing_index:
                print(f"  {line}")
        else:
            print("Every listing and summary statement uses an index.")
        for label, by_time, by_buffers in self.ratios:
            verdict = "ok" if by_buffers <= max_ratio else f"TOO COSTLY (> {max_ratio})"
            ok = ok and by_buffers <= max_ratio
            print(f"deep/first {label}: {by_buffers:.2f} in buffers read ({by_time:.2f} in time) "
                  f"{verdict}")
        return ok

    @staticmethod
    def _explain(statement, parameters):
        from webapp.extensions import db

        with db.engine.connect() as conn:
            raw = conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters
            ).scalar()
        return (json.loads(raw) if isinstance(raw, str) else raw)[0]


def _node_types(plan):
    """The plan's nodes, depth first, as 'Node Type using index' strings."""
    name = plan["Node Type"]
    if "Index Name" in plan:
        name += f" using {plan['Index Name']}"
    nodes = [name]
    for child in plan.get("Plans", []):
        nodes.extend(_node_types(child))
    return nodes


def _first_line(statement):
    flat = " ".join(statement.split())
    return flat[:150] + ("..." if len(flat) > 150 else "")


def _bench(app, report, args):
    from webapp.extensions import db
    from webapp.models import LlmCallLog
    from webapp.services import log_analytics, log_cursor, log_queries, log_summary
    from webapp.services.log_queries import LogFilters

    # The heaviest user, and one from the middle of the tail.
    users = db.session.execute(text(
        "SELECT user_id, count(*) AS n FROM llm_call_logs GROUP BY user_id ORDER BY n DESC"
    )).all()
    heavy, typical = users[0], users[len(users) // 2]
    print(f"users: {len(users):,}; heaviest {heavy.user_id} with {heavy.n:,} calls, "
          f"a typical one {typical.user_id} with {typical.n:,}\n")

    print("--- GET /llm-logs/my-logs")
    for who in (typical, heavy):
        report.measure(f"my-logs, {who.n:,}-call user, days=7 limit=50",
                       lambda who=who: log_queries.list_own_logs(who.user_id, days=7, limit=50))
    report.measure("my-logs, heaviest user, endpoint + success=false, days=365",
                   lambda: log_queries.list_own_logs(
                       heavy.user_id, days=365, limit=50,
                       endpoint_name="workouts/{workout_id}/revise", success=False))
    print()

    print("--- my-logs: first page vs a deep keyset page (heaviest user, days=365, limit=50)")
    first = report.measure("my-logs first page",
                           lambda: log_queries.list_own_logs(heavy.user_id, days=365, limit=50))
    scope = log_cursor.scope_of("own", user_id=heavy.user_id, endpoint_name=None,
                                llm_operation_type=None, success=None, days=365)
    depth = int(heavy.n * 0.9)
    deep_cursor = _cursor_at(LlmCallLog.user_id == heavy.user_id, depth, scope)
    deep = report.measure(f"my-logs keyset page at row {depth:,}",
                          lambda: log_queries.list_own_logs(heavy.user_id, days=365, limit=50,
                                                            cursor=deep_cursor))
    report.compare("my-logs keyset", first, deep)

    print("--- GET /llm-logs/my-summary")
    for who in (typical, heavy):
        for days in (7, 365):
            report.measure(f"my-summary, {who.n:,}-call user, days={days}",
                           lambda who=who, days=days: log_summary.user_summary(who.user_id, days))
    print()

    print("--- GET /llm-logs/ (admin)")
    every = LogFilters()
    report.measure("admin listing, no filter, limit=50 (with its total)",
                   lambda: log_queries.list_all_logs(every, limit=50))
    now = db.session.scalar(text("SELECT now()"))
    filtered = {
        "user_id": LogFilters(user_id=typical.user_id),
        "endpoint_name": LogFilters(endpoint_name="workouts/{workout_id}/revise/accept"),
        "llm_operation_type": LogFilters(llm_operation_type="training_principles_creation"),
        "success=false": LogFilters(success=False),
        "success=true": LogFilters(success=True),
        "one day (start_date/end_date)": LogFilters(since=now - timedelta(days=31),
                                                    before=now - timedelta(days=30)),
        "endpoint + success=false + 30 days": LogFilters(
            endpoint_name="llm/create-workout", success=False, since=now - timedelta(days=30)),
    }
    for name, filters in filtered.items():
        report.measure(f"admin listing, {name}",
                       lambda filters=filters: log_queries.list_all_logs(filters, limit=50))
    print()

    print("--- admin listing: first page vs deep pages (no filter, limit=50)")
    scope = log_cursor.scope_of("all", **every.as_dict())
    total = log_queries.count_logs(every)
    # Both pages count the total (every page does), so the ratio is the keyset scan's alone.
    first = report.measure("admin first page, with total",
                           lambda: log_queries.list_all_logs(every, limit=50))
    depth = int(total * 0.9)
    deep_cursor = _cursor_at(None, depth, scope)
    deep = report.measure(f"admin keyset page at row {depth:,}",
                          lambda: log_queries.list_all_logs(every, limit=50, cursor=deep_cursor))
    report.compare("admin keyset", first, deep)
    offset_deep = report.measure(f"admin OFFSET page at row {depth:,} (contrast, with total)",
                                 lambda: log_queries.list_all_logs(every, limit=50, offset=depth),
                                 needs_index=False, runs=3)
    report.compare("admin OFFSET (not judged)", first, offset_deep, judged=False)
    report.measure("admin total alone: count(*) of every row",
                   lambda: log_queries.count_logs(every), needs_index=False)
    print()

    # Aggregates over a good part of the table: the planner may rightly prefer a sequential
    # scan, so these are shown, not judged.
    print("--- analytics (admin)")
    report.measure("top-users days=7", lambda: log_analytics.top_users(7, 10), needs_index=False)
    report.measure("endpoint-latency days=7", lambda: log_analytics.endpoint_latency(7),
                   needs_index=False)
    report.measure("error-rates days=7", lambda: log_analytics.error_rates(7), needs_index=False)
    report.measure("endpoint-latency, every row", lambda: log_analytics.endpoint_latency(),
                   needs_index=False)
    report.measure("error-rates, every row", lambda: log_analytics.error_rates(),
                   needs_index=False)
    print()


def _cursor_at(condition, depth, scope):
    """The cursor a client would hold after reading `depth` rows (found once, the slow way)."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import LlmCallLog
    from webapp.services import log_cursor
    from webapp.services.log_queries import NEWEST_FIRST

    stmt = select(LlmCallLog.timestamp, LlmCallLog.id).order_by(*NEWEST_FIRST).offset(depth - 1)
    if condition is not None:
        stmt = stmt.where(condition)
    row = db.session.execute(stmt.limit(1)).one()
    return log_cursor.encode(log_cursor.Cursor(row.timestamp, row.id, depth), scope)


if __name__ == "__main__":
    main()
