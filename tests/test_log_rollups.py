"""Aggregates read from the rollups equal plain SQL over the rows, however the rows changed.

Each test changes `llm_call_logs` the way someone outside the service might (an INSERT, a COPY,
an UPDATE of timestamps, a DELETE, rows written late or committed out of id order) and then
compares every aggregate answer with the same figure computed in plain SQL over the table.
"""

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from webapp.extensions import db
from webapp.services import log_analytics, log_queries, log_rollups, log_summary

USERS = ["u-heavy", "u-light", "u-other"]
ENDPOINTS = [
    ("llm/create-workout", "workout_creation"),
    ("workouts/{workout_id}/revise", "workout_revision"),
    ("llm/create-training-principles", "training_principles_creation"),
    ("custom/endpoint", None),
]
ERRORS = ["APITimeoutError", "RateLimitError", "InvalidLLMOutput"]
MODELS = [("gpt-4o-mini-2024-07-18", "workout", 1), ("gpt-4o-mini-2024-07-18", "workout", 2),
          ("gpt-4.1-mini-2025-04-14", "workout_revision", 1), (None, None, None)]
# Not on a whole hour, so every window starts and ends mid-bucket.
NOW = datetime.now(timezone.utc).replace(minute=37, second=12, microsecond=345678)
# Early in its day and hour: windows from here read their edges by subtraction.
EARLY = (NOW - timedelta(days=1)).replace(hour=3, minute=9)


def _rows(count, seed, spread_hours=24 * 40):
    rng = random.Random(seed)
    for _ in range(count):
        endpoint, operation = rng.choice(ENDPOINTS)
        model, prompt_name, prompt_version = rng.choice(MODELS)
        success = rng.random() > 0.2
        yield {
            "model": model, "prompt_name": prompt_name, "prompt_version": prompt_version,
            "user_id": rng.choice(USERS),
            "endpoint_name": endpoint,
            "llm_operation_type": operation,
            "success": success,
            "error_type": None if success else rng.choice(ERRORS),
            "timestamp": NOW - timedelta(seconds=rng.uniform(-3600, spread_hours * 3600)),
            "duration_ms": None if rng.random() < 0.05 else int(rng.lognormvariate(6.5, 1.2)),
            "total_tokens": rng.randint(50, 3000),
            "cost_usd": round(rng.uniform(0, 0.01), 6),
        }


_INSERT = text("""
    INSERT INTO llm_call_logs (user_id, endpoint_name, method, "timestamp", duration_ms, success,
                               error_type, llm_operation_type, total_tokens, cost_usd, model,
                               prompt_name, prompt_version)
    VALUES (:user_id, :endpoint_name, 'POST', :timestamp, :duration_ms, :success, :error_type,
            :llm_operation_type, :total_tokens, :cost_usd, :model, :prompt_name, :prompt_version)
""")


def _insert(rows, engine=None):
    unset = {"model": None, "prompt_name": None, "prompt_version": None}
    with (engine or db.engine).begin() as conn:
        conn.execute(_INSERT, [{**unset, **row} for row in rows])


def _sql(query, **params):
    return db.session.execute(text(query), params).all()


def _reference_summary(user_id, days, now):
    since = now - timedelta(days=days)
    window = "user_id = :u AND timestamp >= :since"
    [t] = _sql(f"""
        SELECT count(*) AS total, count(*) FILTER (WHERE success) AS ok,
               round(100.0 * count(*) FILTER (WHERE success) / nullif(count(*), 0), 2) AS rate,
               round(avg(duration_ms), 2) AS avg,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95,
               coalesce(sum(total_tokens), 0) AS tokens, coalesce(sum(cost_usd), 0) AS cost
        FROM llm_call_logs WHERE {window}""", u=user_id, since=since)

    def counts(column, extra=""):
        rows = _sql(f"""SELECT {column} AS k, count(*) AS n FROM llm_call_logs
                        WHERE {window} AND {column} IS NOT NULL {extra} GROUP BY 1""",
                    u=user_id, since=since)
        return {row.k: row.n for row in rows}

    daily = {row.d.isoformat(): (row.n, row.f) for row in _sql(f"""
        SELECT date(timezone('UTC', timestamp)) AS d, count(*) AS n,
               count(*) FILTER (WHERE NOT success) AS f
        FROM llm_call_logs WHERE {window} GROUP BY 1""", u=user_id, since=since)}
    return t, counts("endpoint_name"), counts("llm_operation_type"), \
        counts("error_type", "AND NOT success"), daily


def _close(answer, exact):
    """Within 1 % or 1 ms of percentile_cont, as SPEC section 8 allows."""
    if exact is None:
        return answer is None
    return abs(answer - exact) <= max(1.0, abs(exact) * 0.01)


def assert_summary_matches(user_id, days, now=NOW):
    summary = log_summary.user_summary(user_id, days, now=now)
    t, endpoints, operations, errors, daily = _reference_summary(user_id, days, now)
    assert summary["total_calls"] == t.total
    assert summary["successful_calls"] == t.ok
    assert summary["failed_calls"] == t.total - t.ok
    assert summary["success_rate"] == (float(t.rate) if t.rate is not None else 0.0)
    assert summary["average_duration_ms"] == (float(t.avg) if t.avg is not None else None)
    assert summary["total_tokens"] == t.tokens
    assert summary["total_cost_usd"] == float(t.cost)
    assert _close(summary["p50_duration_ms"], t.p50), (summary["p50_duration_ms"], t.p50)
    assert _close(summary["p95_duration_ms"], t.p95), (summary["p95_duration_ms"], t.p95)
    assert summary["most_used_endpoints"] == dict(
        sorted(endpoints.items(), key=lambda kv: (-kv[1], kv[0]))[:10])
    assert summary["operation_types"] == operations
    assert summary["error_types"] == errors
    for day in summary["daily"]:
        assert (day["total_calls"], day["failed_calls"]) == daily.get(day["date"], (0, 0))


def assert_by_model_matches(days, now=NOW, user_id=None):
    """GET /stats/by-model's items against GROUP BY over the rows (p95 within 1 %)."""
    where = "timestamp >= :since" + (" AND user_id = :user_id" if user_id else "")
    expected = {
        (r.model, r.prompt_name, r.prompt_version): r
        for r in _sql(f"""
            SELECT model, prompt_name, prompt_version, count(*) AS calls,
                   count(*) FILTER (WHERE NOT success) AS failed, avg(duration_ms) AS avg,
                   round(count(*) FILTER (WHERE NOT success) * 100.0 / count(*), 2) AS rate,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95,
                   coalesce(sum(total_tokens), 0) AS tokens, coalesce(sum(cost_usd), 0) AS cost
            FROM llm_call_logs WHERE {where} GROUP BY 1, 2, 3""",
            since=now - timedelta(days=days), user_id=user_id)
    }
    answer = {(i["model"], i["prompt_name"], i["prompt_version"]): i
              for i in log_analytics.by_model(days=days, user_id=user_id, now=now)}
    assert answer.keys() == expected.keys()
    for key, item in answer.items():
        r = expected[key]
        assert {k: v for k, v in item.items() if k != "p95_duration_ms"} == {
            "model": r.model, "prompt_name": r.prompt_name, "prompt_version": r.prompt_version,
            "calls": r.calls, "failed_calls": r.failed, "error_rate": float(r.rate),
            "avg_duration_ms": None if r.avg is None else float(r.avg),
            "total_tokens": r.tokens, "total_cost_usd": float(r.cost),
        }, key
        assert _close(item["p95_duration_ms"], r.p95), (key, item["p95_duration_ms"], r.p95)
    return expected


def assert_analytics_match(days, now=NOW):
    since = now - timedelta(days=days)
    assert_by_model_matches(days, now)
    top = _sql("""SELECT user_id, count(*) AS n FROM llm_call_logs WHERE timestamp >= :since
                  GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10""", since=since)
    assert log_analytics.top_users(days=days, now=now) == [
        {"user_id": r.user_id, "call_count": r.n} for r in top]
    for window, params in (("", {}), ("AND timestamp >= :since", {"since": since})):
        latency = _sql(f"""SELECT endpoint_name, AVG(duration_ms) AS a FROM llm_call_logs
                           WHERE duration_ms IS NOT NULL {window}
                           GROUP BY 1 ORDER BY 2 DESC, 1""", **params)
        rates = _sql(f"""
            SELECT llm_operation_type, COUNT(*) AS n,
                   SUM(CASE WHEN success = false THEN 1 ELSE 0 END) AS f,
                   ROUND(SUM(CASE WHEN success = false THEN 1 ELSE 0 END) * 100.0 / COUNT(*), 2) AS r
            FROM llm_call_logs WHERE llm_operation_type IS NOT NULL {window}
            GROUP BY 1 ORDER BY 4 DESC, 1""", **params)
        asked = {"days": days, "now": now} if window else {}
        assert log_analytics.endpoint_latency(**asked) == [
            {"endpoint_name": r.endpoint_name, "avg_duration_ms": float(r.a)} for r in latency]
        assert log_analytics.error_rates(**asked) == [
            {"llm_operation_type": r.llm_operation_type, "total_calls": r.n, "failed_calls": r.f,
             "error_rate": float(r.r)} for r in rates]


FILTER_CASES = [
    {},
    {"user_id": "u-heavy"},
    {"success": False},
    {"user_id": "u-light", "endpoint_name": "llm/create-workout", "success": True},
    {"llm_operation_type": "workout_revision"},
    {"since": NOW - timedelta(days=3, minutes=17), "before": NOW - timedelta(hours=5, minutes=3)},
    {"user_id": "u-heavy", "since": NOW - timedelta(minutes=20), "before": NOW},
    {"since": NOW - timedelta(days=9, hours=2)},
    {"before": NOW - timedelta(days=2, minutes=50)},
    {"since": EARLY - timedelta(days=3), "before": EARLY.replace(hour=22, minute=51)},
    {"user_id": "u-heavy", "since": EARLY - timedelta(days=5), "before": EARLY.replace(hour=23)},
]


def assert_totals_match():
    for case in FILTER_CASES:
        filters = log_queries.LogFilters(**case)
        clauses, params = [], {}
        for name in ("user_id", "endpoint_name", "llm_operation_type", "success"):
            if case.get(name) is not None:
                clauses.append(f"{name} = :{name}")
                params[name] = case[name]
        if "since" in case:
            clauses.append("timestamp >= :since")
            params["since"] = case["since"]
        if "before" in case:
            clauses.append("timestamp < :before")
            params["before"] = case["before"]
        where = " AND ".join(clauses) or "TRUE"
        [[expected]] = _sql(f"SELECT count(*) FROM llm_call_logs WHERE {where}", **params)
        assert log_queries.count_logs(filters) == expected, case


def assert_all_match():
    db.session.rollback()  # a fresh snapshot, as a new request has
    for now in (NOW, EARLY):
        for user_id in USERS:
            for days in (1, 7, 30):
                assert_summary_matches(user_id, days, now)
        for days in (1, 7, 30):
            assert_analytics_match(days, now)
    assert_totals_match()


@pytest.fixture
def rows(app_ctx):
    _insert(_rows(1500, seed=1))


def _covered(parts, moment):
    """How often the parts count `moment`: +1 for each part holding it, -1 for each
    subtracted one (a rollup part holds the moments of its whole buckets)."""
    total = 0
    for part in parts:
        if part.source == "raw":
            start = moment
        else:
            start = moment.replace(minute=0, second=0, microsecond=0)
            if part.source == "day":
                start = start.replace(hour=0)
        if (part.lo is None or start >= part.lo) and (part.hi is None or start < part.hi):
            total += part.sign
    return total


@pytest.mark.parametrize("grains", [("hour", "day"), ("day",)])
def test_window_parts_count_each_moment_of_a_window_once(grains):
    rng = random.Random(11)
    base = datetime(2026, 11, 3, tzinfo=timezone.utc)
    for _ in range(300):
        since = base + timedelta(minutes=rng.randrange(0, 60 * 24 * 6))
        until = since + timedelta(minutes=rng.randrange(1, 60 * 24 * 4))
        for lo, hi in ((since, until), (since, None), (None, until)):
            parts = log_rollups.window_parts(lo, hi, grains)
            for _ in range(40):
                moment = base + timedelta(seconds=rng.randrange(-86400, 86400 * 12))
                inside = (lo is None or moment >= lo) and (hi is None or moment < hi)
                assert _covered(parts, moment) == int(inside), (lo, hi, moment, parts)
    assert log_rollups.window_parts(None, None) == [log_rollups.Part("day", None, None)]


def test_a_ragged_edge_reads_at_most_half_a_bucket_of_finer_rows():
    since = datetime(2026, 11, 3, 20, 30, tzinfo=timezone.utc)
    parts = log_rollups.window_parts(since, None, ("day",))
    assert parts == [
        log_rollups.Part("raw", since, datetime(2026, 11, 4, tzinfo=timezone.utc)),
        log_rollups.Part("day", datetime(2026, 11, 4, tzinfo=timezone.utc), None),
    ]
    early = since.replace(hour=3)
    assert log_rollups.window_parts(early, None, ("day",)) == [
        log_rollups.Part("raw", datetime(2026, 11, 3, tzinfo=timezone.utc), early, -1),
        log_rollups.Part("day", datetime(2026, 11, 3, tzinfo=timezone.utc), None),
    ]


# The first definition of llm_duration_bucket (migration 0004): rollup rows written by it must
# stay in the buckets the later one (0013, a search in the floors) gives.
LN_BUCKET = "CASE WHEN d < 128 THEN d ELSE 128 + floor(ln(d / 128.0) / ln(1.015))::integer END"


def test_the_raw_rows_duration_buckets_are_the_rollups_buckets(app_ctx):
    """The reads bucket raw rows by a search in a table of bucket floors; a raw row outside
    the window is subtracted from its rollup bucket, so both must be the same bucket, and the
    same as 0004's ln() gave. Checked at every floor and the millisecond before it, which for
    a function that only grows covers every integer duration."""
    floors = log_rollups.BUCKET_FLOORS
    durations = sorted({*range(-3, 5000), *floors, *(floor - 1 for floor in floors), 2**31 - 1})
    [[differ_read, differ_ln, nulls, checked]] = _sql(f"""
        SELECT count(*) FILTER (WHERE {log_rollups.duration_bucket_sql("d")}
                                      IS DISTINCT FROM llm_duration_bucket(d)),
               count(*) FILTER (WHERE {LN_BUCKET} IS DISTINCT FROM llm_duration_bucket(d)),
               count(*) FILTER (WHERE llm_duration_bucket(d) IS NULL), count(*)
        FROM unnest(CAST(:durations AS integer[])) AS d
    """, durations=durations, bucket_floors=floors)
    assert (differ_read, differ_ln, nulls, checked) == (0, 0, 0, len(durations))
    assert _sql("SELECT llm_duration_bucket(NULL)") == [(None,)]


def test_aggregates_equal_sql_over_rows_the_service_never_saw(rows):
    assert_all_match()


def test_an_empty_table_answers_zeroes(app_ctx):
    assert_all_match()
    assert log_summary.user_summary("nobody", 7, now=NOW)["p95_duration_ms"] is None


def test_a_bulk_insert_from_outside_counts_at_once(rows):
    with db.engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO llm_call_logs (user_id, endpoint_name, method, "timestamp", duration_ms,
                                       success, llm_operation_type)
            SELECT 'u-bulk-' || (g % 7), 'llm/create-workout', 'POST',
                   now() - g * interval '37 seconds', g % 5000, g % 11 <> 0, 'workout_creation'
            FROM generate_series(1, 20000) AS g
        """))
    assert_all_match()
    assert_summary_matches("u-bulk-3", 7)


def test_a_copy_from_outside_counts_at_once(rows):
    lines = [
        f"u-copy\tllm/create-workout\tPOST\t{(NOW - timedelta(minutes=7 * i)).isoformat()}\t{100 + i}\tt"
        for i in range(500)
    ]
    raw = db.engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            with cursor.copy('COPY llm_call_logs (user_id, endpoint_name, method, "timestamp",'
                             ' duration_ms, success) FROM STDIN') as copy:
                copy.write("\n".join(lines) + "\n")
        raw.commit()
    finally:
        raw.close()
    assert_all_match()
    assert_summary_matches("u-copy", 1)


def test_updates_of_timestamps_and_outcomes_move_the_counts(rows):
    with db.engine.begin() as conn:
        conn.execute(text("""UPDATE llm_call_logs SET "timestamp" = "timestamp" - interval '9 days'
                             WHERE id % 3 = 0"""))
        conn.execute(text("""UPDATE llm_call_logs SET success = NOT success,
                             error_type = CASE WHEN success THEN 'Flipped' END,
                             duration_ms = duration_ms * 2 WHERE id % 5 = 0"""))
        conn.execute(text("UPDATE llm_call_logs SET user_id = 'u-light' WHERE id % 7 = 0"))
    assert_all_match()


def test_deleted_rows_leave_the_answers(rows):
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM llm_call_logs WHERE id % 4 = 0 OR user_id = 'u-other'"))
    assert_all_match()
    assert all(item["user_id"] != "u-other" for item in log_analytics.top_users(days=30, now=NOW))


def test_rows_written_late_with_old_timestamps_count(rows):
    late = list(_rows(200, seed=2, spread_hours=24 * 800))  # up to two years back
    _insert(late)
    assert_all_match()


def test_transactions_committing_out_of_id_order_are_counted_once(rows):
    first = db.engine.connect()
    try:
        first.begin()
        first.execute(_INSERT, list(_rows(30, seed=3, spread_hours=3)))  # lower ids, not committed
        # The later transaction may wait on a rollup row the first one holds; readers never do.
        engine, failures = db.engine, []

        def insert_later():
            try:
                _insert(list(_rows(30, seed=4, spread_hours=3)), engine)
            except Exception as exc:  # seen by the assertion below
                failures.append(exc)

        later = threading.Thread(target=insert_later)
        later.start()
        later.join(timeout=1)
        assert_all_match()
        first.commit()
        later.join()
        assert failures == []
        assert_all_match()
    finally:
        first.close()


def test_rebuilding_the_rollups_changes_no_answer(rows):
    before = log_summary.user_summary("u-heavy", 30, now=NOW)
    assert log_rollups.rebuild() == 1500
    assert log_summary.user_summary("u-heavy", 30, now=NOW) == before
    assert_all_match()


def test_percentiles_from_the_histogram_stay_within_one_percent(app_ctx):
    rng = random.Random(5)
    _insert({
        "user_id": "u-p", "endpoint_name": "llm/create-workout", "llm_operation_type": None,
        "success": True, "error_type": None, "total_tokens": None, "cost_usd": None,
        "timestamp": NOW - timedelta(minutes=rng.uniform(0, 600)),
        "duration_ms": int(rng.paretovariate(1.2) * 300),
    } for _ in range(3000))
    assert_summary_matches("u-p", 1)


def test_seeded_rows_are_counted_by_every_aggregate(app, runner, app_ctx):
    result = runner.invoke(args=["logs", "seed", "--rows", "3000", "--users", "25", "--days", "20",
                                 "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert "Seeded 3000 rows" in result.output
    db.session.rollback()
    [[count, failed, users]] = _sql("""SELECT count(*), count(*) FILTER (WHERE NOT success),
                                       count(DISTINCT user_id) FROM llm_call_logs""")
    assert count == 3000
    assert 0 < failed < 600  # about 5 %
    assert users > 10
    heaviest = log_analytics.top_users(days=30, limit=1, now=NOW)[0]["user_id"]
    for days in (1, 7, 30):
        assert_summary_matches(heaviest, days)
        assert_analytics_match(days)
    assert log_queries.count_logs(log_queries.LogFilters()) == 3000
