"""P3: how many LLM calls one plain worker keeps in flight, and the jobs/s that gives.

The plain worker command, `python -m celery -A tasks worker ...`, runs with its default
concurrency (WORKER_CONCURRENCY is not set unless --concurrency is given) against a local
OpenAI-compatible server in this process that answers every call after --llm-delay seconds
(1.0). N jobs are submitted through POST /llm/create-workout (the Flask app's test client)
as fast as the submitter threads go; the fake LLM counts the most requests it had open at
once, and the jobs' timestamps in the database give the throughput over the steady window
(first job started to last job finished) and the latency (finished - created).

    .venv/bin/python bench/calls_in_flight.py            # 1200 jobs
    .venv/bin/python bench/calls_in_flight.py --small    # 400 jobs
    .venv/bin/python bench/calls_in_flight.py --pool gevent  # the same with -P gevent
                                                          # (pip install gevent first)

The ideal for a worker that keeps C calls in flight on an LLM that takes D seconds is C / D
jobs/s; the last line gives the measured throughput as a fraction of max-in-flight / D. It
uses a scratch database `llmlog_bench_<random>` (built by the migrations, dropped at the end)
and a Redis key prefix of its own (deleted at the end), on DATABASE_URL / REDIS_URL (default:
the local servers). It exits 1 only on a broken run (a job that did not succeed, or no log
row for it), never on a missed target.
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.pipeline_throughput import (  # noqa: E402
    CpuMeter,
    check_jobs,
    job_timings,
    jobs_done,
    machine_busy,
    make_user,
    percentile,
    print_table,
    report_check,
    running_worker,
    scratch_stack,
    submit_jobs,
    wait_for,
)

QUEUE = "celery"  # the default queue, where the web tier sends every job
TARGET_IN_FLIGHT = 200
TARGET_RATIO = 0.8


def _expect_reply(replies, worker, what):
    if not replies:
        worker.show_log()
        raise SystemExit(f"the worker did not answer {what}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="400 jobs instead of 1200")
    parser.add_argument("--jobs", type=int, help="jobs to submit")
    parser.add_argument("--concurrency", type=int,
                        help="WORKER_CONCURRENCY for the worker (default: not set)")
    parser.add_argument("--llm-delay", type=float, default=1.0,
                        help="seconds the fake LLM takes to answer")
    parser.add_argument("--submitters", type=int, default=4,
                        help="threads of this process that submit the jobs")
    parser.add_argument("--warmup", type=int, default=20, help="jobs run first, not measured")
    parser.add_argument("--pool", help="another Celery pool to compare with (-P), e.g. gevent")
    args = parser.parse_args(argv)
    count = args.jobs or (400 if args.small else 1200)
    delay = args.llm_delay

    background = machine_busy()
    with scratch_stack(llm_delay_s=delay) as stack, \
            running_worker(stack, "tasks", concurrency=args.concurrency,
                           pool=args.pool) as worker, \
            stack.connect() as conn:
        headers = make_user(stack.app)
        setting = (f"WORKER_CONCURRENCY={args.concurrency}" if args.concurrency
                   else "WORKER_CONCURRENCY not set")
        print(f"worker pid {worker.process.pid}, {setting}: {args.pool or 'threads'} pool of "
              f"{worker.pool_size}; "
              f"{count} jobs after a warm-up of {args.warmup}; {args.submitters} submitter "
              f"threads; LLM answers after {delay:g} s; machine {100 * background:.0f}% busy "
              f"before the run")

        timeout = 60 + 10 * delay * count / max(1, worker.pool_size or 1)
        submit_jobs(stack.app, headers, args.warmup, args.submitters)
        wait_for(jobs_done(conn, args.warmup), worker, timeout, "waiting for the warm-up jobs")
        with stack.llm._lock:
            stack.llm.max_in_flight = 0

        # The worker stops taking messages while the jobs are submitted, so it meets a full
        # queue: the test client submits only some 50 to 120 jobs/s on a small machine, and
        # with a 1 s LLM that rate would otherwise cap the calls in flight, whatever the
        # worker can do.
        control = stack.app.extensions["celery"].control
        _expect_reply(control.cancel_consumer(QUEUE, reply=True), worker, "cancel_consumer")
        job_ids = submit_jobs(stack.app, headers, count, args.submitters)
        meter = CpuMeter(worker, conn)
        _expect_reply(control.add_consumer(QUEUE, reply=True), worker, "add_consumer")
        wait_for(jobs_done(conn, args.warmup + count), worker, timeout, "waiting for the jobs",
                 interval=0.1)
        cpu = meter.read()
        in_flight = stack.llm.max_in_flight
        latencies, first_started, last_finished = job_timings(conn, job_ids)
        checked, bad = check_jobs(conn)

        window = last_finished - first_started
        rate = count / window
        ideal = in_flight / delay
        print()
        print_table(
            [["LLM requests in flight at most", in_flight],
             ["worker pool threads", worker.pool_size],
             ["steady window (first started to last finished)", f"{window:.2f} s"],
             ["throughput over the window", f"{rate:.1f} jobs/s"],
             [f"ideal: in flight / {delay:g} s", f"{ideal:.1f} jobs/s"],
             ["job latency (finished - created) p50", f"{1000 * percentile(latencies, 0.5):.0f} ms"],
             ["job latency (finished - created) p95", f"{1000 * percentile(latencies, 0.95):.0f} ms"],
             ["CPU ms per job: worker / bench / postgres / rest",
              " / ".join(f"{1000 * value / count:.1f}"
                         for value in (cpu.worker, cpu.bench, cpu.postgres, cpu.rest))],
             ["worker CPU over the window", f"{100 * cpu.worker / window:.0f}%"],
             [f"machine busy ({os.cpu_count()} CPUs)", f"{100 * cpu.machine_busy:.0f}%"],
             ["PostgreSQL sessions opened on the scratch db", cpu.sessions]],
            ["measure", "value"])
        print()
        report_check(bad, checked, worker)
        print(f"P3 {in_flight} calls in flight, {rate:.1f} jobs/s with a {delay:g} s LLM: "
              f"{rate / ideal:.2f}x of in-flight/{delay:g}s "
              f"(targets: >= {TARGET_IN_FLIGHT} in flight, >= {TARGET_RATIO}x)")
        return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
