"""P1: what the logging context costs over one bare INSERT and commit of the same row.

Both write one llm_call_logs row per call into the same scratch database (triggers and
indexes included, as in production): the bare side with a psycopg connection of its own,
`INSERT ...` then `commit()`; the other side a whole `with log_workout_creation(...)` block as
a worker runs it (request data redacted, the row built, one INSERT on a pooled connection).
The two alternate in rounds, so machine noise hits both alike.

    .venv/bin/python bench/logging_context.py [--calls 3000]
"""

import argparse
import time
import uuid

from scratch import median, ms, percentile, print_table, scratch_app

import psycopg

BARE_INSERT = """
INSERT INTO llm_call_logs (call_id, user_id, endpoint_name, method, "timestamp", duration_ms,
    success, http_status_code, response_summary, request_data, llm_operation_type, workout_id,
    user_agent, ip_address, job_id, model, prompt_tokens, completion_tokens, total_tokens,
    cost_usd, queue_wait_ms, attempt)
VALUES (%s, %s, 'llm/create-workout', 'POST', now(), 1200, true, 200, %s, %s,
        'workout_creation', 1, 'bench/1.0', '203.0.113.7', %s, 'gpt-4o-mini', 120, 80, 200,
        0.000066, 5, 1)
"""
META = {"method": "POST", "user_agent": "bench/1.0", "ip_address": "203.0.113.7"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()

    from psycopg.types.json import Jsonb

    from webapp.extensions import db
    from webapp.services.llm_logging_service import log_workout_creation

    with scratch_app() as app, app.app_context():
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        bare_times, context_times = [], []
        user_id = str(uuid.uuid4())
        with psycopg.connect(url) as bare:
            for round_number in range(args.calls + 200):
                job_id = uuid.uuid4()
                started = time.perf_counter()
                bare.execute(BARE_INSERT, (uuid.uuid4(), user_id, 'Created workout 1 "Leg day"',
                                           Jsonb({"prompt": "legs"}), job_id))
                bare.commit()
                bare_elapsed = time.perf_counter() - started

                started = time.perf_counter()
                with log_workout_creation(user_id, request_data={"prompt": "legs"},
                                          request_meta=META, job_id=job_id, attempt=1,
                                          queue_wait_ms=5) as call:
                    call.set_fields(model="gpt-4o-mini", prompt_tokens=120, completion_tokens=80,
                                    total_tokens=200, cost_usd=0.000066)
                    call.log_success(response_summary='Created workout 1 "Leg day"', workout_id=1)
                context_elapsed = time.perf_counter() - started
                if round_number >= 200:  # the first rounds warm caches and the pool
                    bare_times.append(bare_elapsed)
                    context_times.append(context_elapsed)
        rows = db.session.execute(db.text("SELECT count(*) FROM llm_call_logs")).scalar()
        assert rows == 2 * (args.calls + 200), rows

    print_table(
        ["write", "calls", "p50 ms", "p95 ms", "mean ms"],
        [[name, len(times), ms(median(times)), ms(percentile(times, 0.95)),
          ms(sum(times) / len(times))]
         for name, times in (("bare INSERT + commit", bare_times),
                             ("logging context", context_times))],
    )
    ratio = median(context_times) / median(bare_times)
    print(f"P1 logging context {ms(median(context_times))} ms vs bare INSERT commit "
          f"{ms(median(bare_times))} ms p50: {ratio:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
