"""P4: the aggregate reads at size, through HTTP, against the naive SQL on the same rows.

Seeds --rows rows with `flask logs seed`'s generator (a few heavy users, a long tail, 90 days
unless --days), then times, through the app's HTTP routes, the three seed analytics, a heavy
and a typical user's 30-day my-summary, the admin listing's first page with its total and a
20-page cursor walk; each analytics and summary answer is compared with the naive SQL over the
table, which is timed too. Each route is called once untimed before its runs: right after the
seed its pages are cold and autovacuum works through the fresh partitions (in one 10M run,
without it, two of 30 top-users runs took 400 ms against a p50 of 10 ms). The scratch database
is dropped at the end.

    .venv/bin/python bench/aggregate_reads.py [--rows 1000000] [--days 90] [--runs 30]

`--rows 3450000 --days 31` gives the users of a 10M-row run's last 30 days (the heaviest with
~407k calls) in a third of the seed's time.
"""

import time
from datetime import datetime, timedelta, timezone

from scratch import (
    accounts_for_seeded_rows, median, ms, percentile, print_table, scratch_app, seed,
    seeded_arguments,
)

SEED_TOP_USERS = """SELECT user_id, COUNT(*) AS call_count FROM llm_call_logs
WHERE timestamp >= :since GROUP BY user_id ORDER BY call_count DESC, user_id LIMIT 10"""
SEED_ENDPOINT_LATENCY = """SELECT endpoint_name, AVG(duration_ms) AS avg_duration_ms
FROM llm_call_logs WHERE duration_ms IS NOT NULL GROUP BY endpoint_name
ORDER BY avg_duration_ms DESC, endpoint_name"""
SEED_ERROR_RATES = """SELECT llm_operation_type, COUNT(*) AS total_calls,
SUM(CASE WHEN success = false THEN 1 ELSE 0 END) AS failed_calls,
ROUND(SUM(CASE WHEN success = false THEN 1 ELSE 0 END) * 100.0 / COUNT(*), 2) AS error_rate
FROM llm_call_logs WHERE llm_operation_type IS NOT NULL GROUP BY llm_operation_type
ORDER BY error_rate DESC, llm_operation_type"""
# The summary's figures in one plain statement (the breakdowns are further GROUP BYs).
NAIVE_SUMMARY = """SELECT count(*) AS total_calls, count(*) FILTER (WHERE success) AS ok,
round(avg(duration_ms), 2) AS average_duration_ms,
percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95,
coalesce(sum(total_tokens), 0) AS total_tokens
FROM llm_call_logs WHERE user_id = :u AND timestamp >= :since"""


def _timed(action, runs, warmup=0):
    times, answer = [], None
    for _ in range(warmup):
        action()
    for _ in range(runs):
        started = time.perf_counter()
        answer = action()
        times.append(time.perf_counter() - started)
    return times, answer


def main():
    parser = seeded_arguments(__doc__, runs=30, users=True)
    parser.add_argument("--days", type=int, default=90, help="the seed's span")
    parser.add_argument("--naive-runs", type=int, default=3)
    args = parser.parse_args()

    from sqlalchemy import text

    from webapp.extensions import db
    from webapp.services import log_analytics, log_queries, log_summary

    with scratch_app() as app, app.app_context():
        seed(app, args.rows, args.users, days=args.days, seed=1)
        (heavy, typical), tokens = accounts_for_seeded_rows()
        headers = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
        client = app.test_client()

        def get(path, who="admin"):
            response = client.get(path, headers=headers[who])
            assert response.status_code == 200, (path, response.get_json())
            return response.get_json()

        def naive(sql, **params):
            return db.session.execute(text(sql), params).all()

        rows, worst_ratio, slowest_p95 = [], None, 0.0
        def at(moment, days):
            return moment - timedelta(days=days)

        # (name, the route, the naive SQL at a moment, the service at that moment, same answer?)
        checks = [
            ("top-users 7 days", lambda: get("/llm-logs/stats/top-users?days=7"),
             lambda t: naive(SEED_TOP_USERS, since=at(t, 7)),
             lambda t: {"items": log_analytics.top_users(days=7, now=t)},
             lambda a, n: [(i["user_id"], i["call_count"]) for i in a["items"]] == [tuple(r) for r in n]),
            ("endpoint-latency", lambda: get("/llm-logs/stats/endpoint-latency"),
             lambda t: naive(SEED_ENDPOINT_LATENCY),
             lambda t: {"items": log_analytics.endpoint_latency()},
             lambda a, n: [(i["endpoint_name"], i["avg_duration_ms"]) for i in a["items"]]
             == [(r[0], float(r[1])) for r in n]),
            ("error-rates", lambda: get("/llm-logs/stats/error-rates"),
             lambda t: naive(SEED_ERROR_RATES),
             lambda t: {"items": log_analytics.error_rates()},
             lambda a, n: [(i["llm_operation_type"], i["total_calls"], i["failed_calls"], i["error_rate"])
                           for i in a["items"]] == [(r[0], r[1], r[2], float(r[3])) for r in n]),
            (f"my-summary 30 days, heavy user ({heavy.n:,} calls)",
             lambda: get("/llm-logs/my-summary?days=30", "heavy"),
             lambda t: naive(NAIVE_SUMMARY, u=heavy.user_id, since=at(t, 30)),
             lambda t: log_summary.user_summary(heavy.user_id, 30, now=t),
             lambda a, n: (a["total_calls"], a["successful_calls"], a["total_tokens"]) ==
             (n[0].total_calls, n[0].ok, n[0].total_tokens)
             and abs(a["p95_duration_ms"] - n[0].p95) <= max(1, n[0].p95 * 0.01)),
            (f"my-summary 30 days, typical user ({typical.n:,} calls)",
             lambda: get("/llm-logs/my-summary?days=30", "typical"),
             lambda t: naive(NAIVE_SUMMARY, u=typical.user_id, since=at(t, 30)),
             lambda t: log_summary.user_summary(typical.user_id, 30, now=t),
             lambda a, n: (a["total_calls"], a["successful_calls"]) == (n[0].total_calls, n[0].ok)),
            ("admin listing, first page with total", lambda: get("/llm-logs/?limit=50"),
             lambda t: naive("SELECT count(*) FROM llm_call_logs"),
             lambda t: {"total": log_queries.count_logs(log_queries.LogFilters())},
             lambda a, n: a["total"] == n[0][0]),
        ]
        for name, route, plain, service, same in checks:
            times, _ = _timed(route, args.runs, warmup=1)
            naive_times, _ = _timed(lambda: plain(datetime.now(timezone.utc)), args.naive_runs)
            db.session.rollback()
            # The answer behind the route, against the naive SQL over the same window (a
            # window of the last days moves with the clock between two statements).
            moment = datetime.now(timezone.utc)
            naive_answer, answer = plain(moment), service(moment)
            db.session.rollback()
            equal = same(answer, naive_answer)
            ratio = median(naive_times) / median(times)
            rows.append([name, ms(median(times)), ms(percentile(times, 0.95)),
                         ms(median(naive_times)), f"{ratio:.1f}x", "yes" if equal else "NO"])
            if name.startswith(("top", "endpoint", "error", "my-summary 30 days, heavy")):
                worst_ratio = ratio if worst_ratio is None else min(worst_ratio, ratio)
                slowest_p95 = max(slowest_p95, percentile(times, 0.95))
            assert equal, (name, answer, naive_answer)

        page_times = []
        cursor = None
        for _ in range(20):
            path = "/llm-logs/?limit=50" + (f"&cursor={cursor}" if cursor else "")
            started = time.perf_counter()
            cursor = get(path)["next_cursor"]
            page_times.append(time.perf_counter() - started)
        rows.append(["admin listing, 20 cursor pages (per page)", ms(median(page_times)),
                     ms(percentile(page_times, 0.95)), "", "", ""])

    print_table(["read", "p50 ms", "p95 ms", "naive SQL p50 ms", "speed-up", "equal"], rows)
    print(f"P4 at {args.rows:,} rows: analytics and heavy my-summary p95 <= {ms(slowest_p95)} ms, "
          f"at least {worst_ratio:.1f}x faster than the naive SQL, answers equal "
          "(targets at 10M rows: p95 <= 50 ms, >= 20x)")


if __name__ == "__main__":
    main()
