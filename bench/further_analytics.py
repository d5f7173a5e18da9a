"""P6: the further analytics and llm_usage at size: their plans and times on seeded rows.

Seeds --rows rows with `flask logs seed`'s generator (90 days), then for costliest, slowest
(7 and 90 days, everyone and one heavy user), by-model (7 and 90 days, and its plain SQL) and
one workout's llm_usage prints the median time over --runs runs and the plan PostgreSQL chose,
with each service answer checked against the plain SQL. The scratch database is dropped at the end.

    .venv/bin/python bench/further_analytics.py [--rows 1000000] [--runs 10]
"""

import time
from datetime import timedelta

from scratch import median, ms, scratch_app, seed, seeded_arguments

PLAIN_TOP = """SELECT id FROM llm_call_logs WHERE "timestamp" >= now() - make_interval(days => :d)
{user} ORDER BY {column} DESC NULLS LAST, "timestamp" DESC, id DESC LIMIT 10"""
PLAIN_BY_MODEL = """SELECT model, prompt_name, prompt_version, count(*) AS calls,
percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95
FROM llm_call_logs WHERE "timestamp" >= :since GROUP BY 1, 2, 3"""


def main():
    parser = seeded_arguments(__doc__, runs=10)
    args = parser.parse_args()

    from sqlalchemy import text

    from webapp.extensions import db
    from webapp.services import llm_usage, log_analytics

    with scratch_app() as app, app.app_context():
        seed(app, args.rows, seed=1)
        heavy = db.session.execute(text(
            "SELECT user_id FROM llm_call_logs GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")).scalar()
        workout = db.session.execute(text(
            "SELECT user_id, workout_id FROM llm_call_logs WHERE workout_id IS NOT NULL LIMIT 1")).one()

        def timed(label, action, explain=None, params=None):
            times = []
            for _ in range(args.runs):
                begun = time.perf_counter()
                answer = action()
                times.append(time.perf_counter() - begun)
                db.session.rollback()
            print(f"\n{label}: median {ms(median(times))}")
            if explain:
                plan = db.session.execute(text("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + explain),
                                          params or {}).scalars().all()
                print("\n".join("    " + line for line in plan[:14]))
            return answer

        for name, column in (("costliest", "cost_usd"), ("slowest", "duration_ms")):
            service = getattr(log_analytics, name)
            for days, user in ((7, None), (90, None), (90, heavy)):
                sql = PLAIN_TOP.format(column=column, user="AND user_id = :u" if user else "")
                params = {"d": days, "u": user}
                rows = timed(f"{name} days={days} user={'heavy' if user else 'all'}",
                             lambda: service(days=days, user_id=user), sql, params)
                expected = db.session.execute(text(sql), params).scalars().all()
                assert [row.id for row in rows] == expected, (name, days, user)
        now = log_analytics.utc_now()  # one instant for both sides
        for days in (7, 90):
            params = {"since": now - timedelta(days=days)}
            items = timed(f"by-model days={days}",
                          lambda: log_analytics.by_model(days=days, now=now))
            plain = timed(f"by-model days={days}, plain SQL",
                          lambda: db.session.execute(text(PLAIN_BY_MODEL), params).all(),
                          PLAIN_BY_MODEL, params)
            expected = {(r.model, r.prompt_name, r.prompt_version): r for r in plain}
            for item in items:
                row = expected.pop((item["model"], item["prompt_name"], item["prompt_version"]))
                assert item["calls"] == row.calls, (item, row)
                assert abs(item["p95_duration_ms"] - row.p95) <= max(1, row.p95 * 0.01), (item, row)
            assert not expected, expected
        timed("llm_usage of one workout", lambda: llm_usage.of_workout(workout.user_id,
                                                                        workout.workout_id),
              "SELECT count(*), sum(total_tokens), sum(cost_usd) FROM llm_call_logs "
              "WHERE user_id = :u AND workout_id IS NOT NULL AND workout_id = :w",
              {"u": workout.user_id, "w": workout.workout_id})


if __name__ == "__main__":
    main()
