"""Prometheus metrics, summed over every web and worker process (SPEC section 14).

prometheus-client's multiprocess mode: each process writes its samples to memory-mapped
files in one directory, and a scrape adds them up. The directory belongs to this deployment
(METRICS_DIR, by default one under instance/metrics/ named after the database and Redis it
uses), so deployments run from one checkout share no metric files (SPEC section 3).

prometheus_client picks its multiprocess value class when it is imported, so it is imported
here only once the directory is known (init_app), never at module import time.
"""

import fcntl
import hashlib
import os
import re
from contextlib import contextmanager
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"

# Known label values, so every labelled family shows zero samples from the start.
OPERATIONS = ("workout_creation", "training_principles_creation", "workout_revision",
              "workout_revision_accept")
SUBMITTED_OPERATIONS = OPERATIONS[:3]
OUTCOMES = ("success", "error")
TOKEN_KINDS = ("prompt", "completion", "cached", "reasoning")
REFUSAL_REASONS = ("rate_limit", "daily_token_budget", "daily_cost_budget")
# LLM calls take from milliseconds (offline) to a minute or more.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, float("inf"))

# The families of this process, once init_app made them.
_families = {}


def default_metrics_dir(database_url, redis_url, redis_key_prefix=""):
    """instance/metrics/<a hash of the database and Redis this deployment uses>."""
    key = "\n".join((database_url, redis_url, redis_key_prefix)).encode()
    return str(INSTANCE_DIR / "metrics" / hashlib.sha256(key).hexdigest()[:16])


def metrics_dir(config):
    """This deployment's metrics directory."""
    return config.get("METRICS_DIR") or default_metrics_dir(
        str(config["SQLALCHEMY_DATABASE_URI"]), config["REDIS_URL"],
        config.get("REDIS_KEY_PREFIX", ""))


def init_app(app):
    """Point prometheus_client at this deployment's directory and make the families.

    One process serves one deployment: the first app a process builds picks the directory
    (an explicit PROMETHEUS_MULTIPROC_DIR wins).
    """
    path = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir(app.config))
    Path(path).mkdir(parents=True, exist_ok=True)
    app.config["METRICS_DIR"] = path
    if not _families:
        _make_families()
        _compact_dead_processes(path)


def _make_families():
    from prometheus_client import Counter, Histogram, values

    # Imported before the directory was set (by someone else): switch it to multiprocess.
    if values.ValueClass.__name__ != "MmapedValue":
        values.ValueClass = values.MultiProcessValue()
    families = {
        "calls": Counter("llm_calls_total", "Logged LLM calls (one per attempt).",
                         ["operation", "outcome"]),
        "duration": Histogram("llm_call_duration_seconds", "Duration of logged LLM calls.",
                              ["operation"], buckets=DURATION_BUCKETS),
        "tokens": Counter("llm_tokens_total", "Tokens of logged LLM calls.", ["operation", "kind"]),
        "cost": Counter("llm_cost_usd_total", "Cost in USD of logged LLM calls.", ["operation"]),
        "submitted": Counter("llm_jobs_submitted_total", "Jobs submitted.", ["operation"]),
        "refused": Counter("llm_requests_refused_total",
                           "LLM operation requests refused by a limit or budget.", ["reason"]),
        "write_failures": Counter("llm_log_write_failures_total",
                                  "Log rows the database did not take at the first try."),
        "http": Counter("http_requests_total", "HTTP requests answered.",
                        ["method", "route", "status"]),
        "repaired": Counter("llm_log_fields_repaired_total",
                            "Log row fields cut or nulled so that the database took the row "
                            "(SPEC 11).", ["field"]),
        "webhook_failures": Counter("llm_alert_webhook_failures_total",
                                    "Failed deliveries of alert events to their webhooks."),
    }
    for operation in OPERATIONS:
        families["duration"].labels(operation)
        families["cost"].labels(operation)
        for outcome in OUTCOMES:
            families["calls"].labels(operation, outcome)
        for kind in TOKEN_KINDS:
            families["tokens"].labels(operation, kind)
    for operation in SUBMITTED_OPERATIONS:
        families["submitted"].labels(operation)
    for reason in REFUSAL_REASONS:
        families["refused"].labels(reason)
    _families.update(families)


def record_call(row):
    """Count one logged call (a log row's columns): outcome, duration, tokens, cost."""
    if not _families:
        return
    operation = row.get("llm_operation_type") or "unknown"
    _families["calls"].labels(operation, "success" if row.get("success") else "error").inc()
    if row.get("duration_ms") is not None:
        _families["duration"].labels(operation).observe(row["duration_ms"] / 1000)
    for kind, column in zip(TOKEN_KINDS, ("prompt_tokens", "completion_tokens", "cached_tokens",
                                          "reasoning_tokens")):
        if row.get(column):
            _families["tokens"].labels(operation, kind).inc(row[column])
    if row.get("cost_usd"):
        _families["cost"].labels(operation).inc(float(row["cost_usd"]))


def record_submitted(operation):
    """Count a job submitted (a new one, not an idempotent repeat)."""
    if _families:
        _families["submitted"].labels(operation).inc()


def record_refused(reason):
    """Count a request refused by a limit (rate_limit, daily_token_budget, daily_cost_budget)."""
    if _families:
        _families["refused"].labels(reason).inc()


def record_log_write_failure():
    """Count a log row the database did not take when it was written."""
    if _families:
        _families["write_failures"].inc()


def record_repair(field):
    """Count a log row field cut or nulled to fit its column."""
    if _families:
        _families["repaired"].labels(field).inc()


def record_webhook_failure():
    """Count a failed delivery of an alert event to its webhook."""
    if _families:
        _families["webhook_failures"].inc()


def record_http(method, route, status):
    """Count an answered HTTP request by its URL rule (never the filled-in path)."""
    if _families:
        _families["http"].labels(method, route, str(status)).inc()


def render(spool_depth):
    """The Prometheus text page of every process of this deployment, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.multiprocess import MultiProcessCollector

    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    with _lock(path, fcntl.LOCK_SH):
        collected = list(MultiProcessCollector(None, path=path).collect())
    present = {family.name for family in collected}
    # A family no process has written yet (say, http_requests_total on a fresh start).
    for family in _families.values():
        for described in family.describe():
            if described.name not in present:
                collected.append(CounterMetricFamily(described.name, described.documentation)
                                 if described.type == "counter" else described)
    depth = GaugeMetricFamily("llm_log_spool_depth", "Log rows waiting in the spool.")
    depth.add_metric([], spool_depth)
    collected.append(depth)

    class _Collected:
        def collect(self):
            return collected

    registry = CollectorRegistry()
    registry.register(_Collected())
    return generate_latest(registry), CONTENT_TYPE_LATEST


@contextmanager
def _lock(path, mode):
    """Scrapes share the directory; compaction has it to itself."""
    with open(Path(path) / ".lock", "a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _compact_dead_processes(path):
    """Fold the counter and histogram files of processes that are gone into one archive file
    per type, so the directory does not grow with every restart and their counts stay."""
    from prometheus_client.mmap_dict import MmapedDict
    from prometheus_client.multiprocess import mark_process_dead

    with _lock(path, fcntl.LOCK_EX):
        for file in Path(path).glob("*.db"):
            kind, _, pid = file.stem.rpartition("_")
            if not pid.isdigit() or _alive(int(pid)):
                continue
            if kind not in ("counter", "histogram"):
                mark_process_dead(int(pid), path)  # a live gauge's file: gone with its process
                continue
            archive = MmapedDict(str(Path(path) / f"{kind}_archive.db"))
            try:
                for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(str(file)):
                    old, _ = archive.read_value(key)
                    archive.write_value(key, old + value, timestamp)
            finally:
                archive.close()
            file.unlink()


# "/jobs/<uuid:job_id>" is labelled "/jobs/<job_id>", as SPEC section 14 writes it.
_CONVERTER = re.compile(r"<(?:[^<:>]+:)?([^<>]+)>")


def route_label(rule):
    """A URL rule without its converters; "unmatched" for a path that matched no route."""
    return _CONVERTER.sub(r"<\1>", rule.rule) if rule is not None else "unmatched"


def _count_request(response):
    from flask import request

    record_http(request.method, route_label(request.url_rule), response.status_code)
    return response


def register(app):
    """Set up this process's metrics and count every answered request."""
    init_app(app)
    app.after_request(_count_request)
