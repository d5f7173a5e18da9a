"""P6: one evaluation of 100 alert rules at size, against the naive SQL for the same values.

Seeds --rows rows with `flask logs seed`'s generator (90 days), makes 100 rules (the four
metrics, windows from 5 minutes to a day, every operation and all), and times
`alerts.evaluate_every_rule()` — what a worker runs every ALERT_EVAL_INTERVAL_S — against
plain SQL over the raw rows for each rule's value; the values are compared.

    .venv/bin/python bench/alert_evaluation.py [--rows 1000000] [--runs 5]
"""

import itertools
import time
from datetime import datetime, timedelta, timezone

from scratch import median, ms, print_table, scratch_app, seed, seeded_arguments

NAIVE = {
    "calls": "count(*)",
    "error_rate": "round(count(*) FILTER (WHERE NOT success) * 100.0 / nullif(count(*), 0), 2)",
    "cost_usd": "coalesce(sum(cost_usd), 0)",
    "p95_duration_ms": "round(percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)::numeric, 2)",
}
WINDOWS = (5, 15, 60, 240, 1440)
OPERATIONS = (None, "workout_creation", "workout_revision", "workout_revision_accept",
              "training_principles_creation")


def main():
    parser = seeded_arguments(__doc__, runs=5)
    args = parser.parse_args()

    from sqlalchemy import text

    from webapp.extensions import db
    from webapp.services import alerts

    with scratch_app() as app, app.app_context():
        seed(app, args.rows, seed=3)
        rules = []
        for number, (metric, window, operation) in enumerate(
                itertools.product(NAIVE, WINDOWS, OPERATIONS)):
            rules.append(alerts.create_rule(f"rule {number}", metric, window, 1e12, operation))
        assert len(rules) == 100

        # One instant for both sides: the windows end where the seeded rows do, and a window
        # that moved by the seconds between the two would start a row earlier or later.
        now = datetime.now(timezone.utc)
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            evaluations = alerts.evaluate_every_rule(now=now)
            times.append(time.perf_counter() - started)
        values = {e.rule.id: e.value for e in evaluations}

        naive_times, naive_by_metric = [], {metric: [] for metric in NAIVE}
        mismatches = 0
        for rule in rules:
            sql = (f"SELECT {NAIVE[rule.metric]} FROM llm_call_logs WHERE timestamp >= :since"
                   + (" AND llm_operation_type = :op" if rule.operation else ""))
            started = time.perf_counter()
            expected = db.session.scalar(text(sql), {
                "since": now - timedelta(minutes=rule.window_minutes), "op": rule.operation})
            elapsed = time.perf_counter() - started
            naive_times.append(elapsed)
            naive_by_metric[rule.metric].append(elapsed)
            expected = None if expected is None else float(expected)
            if expected != values[rule.id]:
                mismatches += 1
                print(f"  {rule.name} {rule.metric} {rule.window_minutes} min {rule.operation}: "
                      f"service {values[rule.id]} vs naive {expected}")

    ours = median(times)
    naive = sum(naive_times)
    print_table(["what", "seconds (median)", "per rule"], [
        ["evaluate_every_rule(), 100 rules", f"{ours:.3f}", f"{ms(ours / 100)} ms"],
        *[[f"  naive SQL, {len(spent)} {metric} rules", f"{sum(spent):.3f}",
           f"{ms(sum(spent) / len(spent))} ms"] for metric, spent in naive_by_metric.items()],
        ["naive SQL, 100 rules", f"{naive:.3f}", f"{ms(naive / 100)} ms"],
    ])
    print(f"P6 100 alert rules at {args.rows:,} rows: {ms(ours)} ms per evaluation vs naive "
          f"{ms(naive)} ms: {naive / ours:.1f}x faster; {mismatches} answers differ; "
          f"{ours / 60 * 100:.2f} % of a 60 s interval")
    if mismatches:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
