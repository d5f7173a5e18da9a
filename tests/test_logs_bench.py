"""The index benchmark still runs against the current schema and services (on a small table)."""

import os
import subprocess
import sys

from scripts.services import ROOT


def test_the_log_query_benchmark_runs_end_to_end(services):
    env = {**os.environ, "DATABASE_URL": services["DATABASE_URL"]}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "log_queries.py"), "--rows", "20000", "--runs", "1"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    # With 20,000 rows the planner may rightly prefer a sequential scan somewhere (exit 1);
    # the verdict that counts is the one on a million rows. Here: no crash, a full report.
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert "deep/first admin keyset" in result.stdout, result.stdout + result.stderr
    assert "dropped llmlog_bench_" in result.stdout
