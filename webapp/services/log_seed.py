"""Realistic log rows for trying the dashboard and for benchmarks, loaded through COPY.

A few heavy users and a long tail (Zipf weights), the four operations in the mix a fitness
app sees, about 5 % failures with the error types and statuses the worker really logs,
log-normal durations, and tokens and cost priced by the configured table. The rollup triggers
fold each COPY batch in as one statement, so reads are right (and fast) as soon as it ends.
"""

import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from webapp.extensions import db
from webapp.llm import prompts
from webapp.services import log_partitions
from webapp.services.log_rollups import ROLLUP_TABLES

BATCH_ROWS = 50_000
COLUMNS = (
    "user_id", "endpoint_name", "method", "timestamp", "duration_ms", "success",
    "http_status_code", "error_message", "error_type", "request_data", "response_summary",
    "llm_operation_type", "workout_id", "training_plan_id", "user_agent", "ip_address", "job_id",
    "model", "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd", "queue_wait_ms",
    "attempt", "prompt_name", "prompt_version",
)
# (endpoint, operation, share of calls, median duration in ms, prompt, completion tokens,
#  the template of its prompt: an accept carries the one of the revision it applies)
OPERATIONS = [
    ("llm/create-workout", "workout_creation", 0.45, 2400, 900, 700, prompts.WORKOUT),
    ("workouts/{workout_id}/revise", "workout_revision", 0.30, 2000, 1400, 650,
     prompts.WORKOUT_REVISION),
    ("workouts/{workout_id}/revise/accept", "workout_revision_accept", 0.15, 15, 0, 0,
     prompts.WORKOUT_REVISION),
    ("llm/create-training-principles", "training_principles_creation", 0.10, 3800, 700, 900,
     prompts.TRAINING_PRINCIPLES),
]
# (error type, HTTP status, message, share of failures)
FAILURES = [
    ("RateLimitError", 429, "The LLM provider is rate limiting requests (429).", 0.35),
    ("APITimeoutError", 504, "The LLM did not answer within 60 s.", 0.25),
    ("InvalidLLMOutput", 502, "The LLM answer does not fit the workout schema: exercises: "
                              "List should have at least 1 item", 0.20),
    ("InternalServerError", 500, "The LLM provider failed (500).", 0.12),
    ("APIConnectionError", 500, "Could not reach the LLM provider.", 0.08),
]
FAILURE_RATE = 0.05
NULL = "\\N"  # COPY's text format
NO_TOKENS = f"{NULL}\t{NULL}\t{NULL}"
PROMPTS = ["30 minute leg workout, dumbbells", "upper body, no equipment", "easy mobility flow",
           "hiit for runners", "core and glutes, 20 minutes"]
USER_AGENTS = ["FitnessApp/3.2 (iOS 18)", "FitnessApp/3.2 (Android 15)", "Mozilla/5.0"]


class RowMaker:
    """Makes seed rows as COPY text lines; deterministic for a seed."""

    def __init__(self, users, prices, model="gpt-4o-mini", seed=None, now=None):
        self.rng = random.Random(seed)
        self.users = [str(uuid.UUID(int=self.rng.getrandbits(128), version=4)) for _ in range(users)]
        # Zipf weights: the first users make most of the calls, the rest a long tail.
        self.user_weights = [1 / (rank + 1) for rank in range(users)]
        self.now = now or datetime.now(timezone.utc)
        self.model = model
        price = prices.get(model)
        self.price = (float(price["input"]), float(price["output"])) if price else None
        self.op_weights = [op[2] for op in OPERATIONS]
        self.failure_weights = [failure[3] for failure in FAILURES]

    def lines(self, count, newest, span_s):
        """`count` rows of the `span_s` seconds before `newest`, each one tab-separated line
        (no newline), oldest first."""
        rng = self.rng
        users = rng.choices(self.users, self.user_weights, k=count)
        operations = rng.choices(OPERATIONS, self.op_weights, k=count)
        offsets = sorted((rng.random() * span_s for _ in range(count)), reverse=True)
        lines = []
        for user_id, op, offset in zip(users, operations, offsets):
            endpoint, operation, _, median_ms, prompt, completion, template = op
            moment = (newest - timedelta(seconds=offset)).isoformat()
            failed = rng.random() < FAILURE_RATE
            duration = int(rng.lognormvariate(0, 0.5) * median_ms)
            workout_id = rng.randint(1, 5_000_000)
            is_llm = operation != "workout_revision_accept"
            tokens, cost = NO_TOKENS, NULL
            if failed:
                error_type, status, message, _ = rng.choices(FAILURES, self.failure_weights)[0]
                summary = NULL
            else:
                error_type = message = NULL
                status = 200
                summary = f"Created workout {workout_id} with {rng.randint(3, 9)} exercises"
                if is_llm:
                    p = int(prompt * rng.uniform(0.7, 1.4))
                    c = int(completion * rng.uniform(0.6, 1.5))
                    tokens = f"{p}\t{c}\t{p + c}"
                    if self.price:
                        cost = f"{(p * self.price[0] + c * self.price[1]) / 1_000_000:.6f}"
            if operation == "workout_creation":
                request = f'{{"prompt": "{rng.choice(PROMPTS)}"}}'
            else:
                request = f'{{"workout_id": {workout_id}}}'
            plan = operation == "training_principles_creation"
            lines.append("\t".join((
                user_id, endpoint, "POST", moment, str(duration), "f" if failed else "t",
                str(status), message, error_type, request, summary, operation,
                NULL if plan else str(workout_id), str(rng.randint(1, 500_000)) if plan else NULL,
                rng.choice(USER_AGENTS), f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                f"{rng.getrandbits(128):032x}" if is_llm else NULL,
                self.model if is_llm else NULL, tokens, cost,
                str(int(rng.expovariate(1 / 40))) if is_llm else NULL, "1" if is_llm else NULL,
                template.name, str(template.version),
            )))
        return lines


def seed(rows, users, days, prices, progress=None, seed=None, timings=None):
    """COPY `rows` seed rows into llm_call_logs in batches, oldest first, in one transaction;
    `progress(n)` is called after each batch; `timings`, a dict, gets each phase's seconds.
    Returns the number of rows written.

    Other writers of the log wait while it runs (a SHARE ROW EXCLUSIVE lock). As a superuser it
    loads with the table's triggers off (session_replication_role replica) and folds the new
    rows into the rollups once at the end, which is several times faster than a fold per batch;
    otherwise the triggers fold each batch. Readers see all the rows, counted, at the commit.
    """
    maker = RowMaker(users, prices, seed=seed)
    # Each month of the window gets its partition first (rows not in one would all wait in
    # the default partition).
    log_partitions.ensure_months((maker.now - timedelta(days=days)).date(), maker.now.date(),
                                 wait=True)
    names = ", ".join(f'"{column}"' for column in COLUMNS)
    copy_sql = f"COPY llm_call_logs ({names}) FROM STDIN"
    # The offsets are drawn per batch; batches go from the oldest slice of the window to now.
    batches = [min(BATCH_ROWS, rows - start) for start in range(0, rows, BATCH_ROWS)]
    raw = db.engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            cursor.execute("LOCK TABLE llm_call_logs IN SHARE ROW EXCLUSIVE MODE")
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            bypass_triggers = cursor.fetchone()[0]
            if bypass_triggers:
                cursor.execute("SET LOCAL session_replication_role = replica")
            # The fold sorts the new rows by each rollup's key: in memory, not in temp files.
            cursor.execute("SET LOCAL work_mem = '256MB'")
            # A bulk load outlasts the requests' statement_timeout (config.DB_STATEMENT_TIMEOUT_MS).
            cursor.execute("SET LOCAL statement_timeout = 0")
            cursor.execute("SELECT coalesce(max(id), 0) FROM llm_call_logs")
            after_id = cursor.fetchone()[0]
            slice_s = days * 86400 / len(batches)
            timings = {} if timings is None else timings
            phase_started = time.monotonic()

            def make(number):
                newest = maker.now - timedelta(seconds=slice_s * (len(batches) - 1 - number))
                return "\n".join(maker.lines(batches[number], newest, slice_s)) + "\n"

            # The next batch is made while PostgreSQL takes this one (the COPY waits on the
            # socket without the GIL).
            with ThreadPoolExecutor(max_workers=1) as maker_thread:
                upcoming = maker_thread.submit(make, 0)
                for number, count in enumerate(batches):
                    text_rows = upcoming.result()
                    if number + 1 < len(batches):
                        upcoming = maker_thread.submit(make, number + 1)
                    with cursor.copy(copy_sql) as copy:
                        copy.write(text_rows)
                    if progress:
                        progress(count)
            timings["generate and COPY"] = time.monotonic() - phase_started
            phase_started = time.monotonic()
            if bypass_triggers:
                cursor.execute("SET LOCAL session_replication_role = origin")
                cursor.execute("SELECT llm_log_rollups_fold(%s)", (after_id,))
            raw.commit()
            timings["fold into the rollups, commit"] = time.monotonic() - phase_started
        # Fresh statistics, or the planner takes the grown rollups for empty ones.
        phase_started = time.monotonic()
        with raw.cursor() as cursor:
            cursor.execute("ANALYZE llm_call_logs, " + ", ".join(ROLLUP_TABLES))
        raw.commit()
        timings["analyze"] = time.monotonic() - phase_started
    finally:
        raw.close()
    return sum(batches)

