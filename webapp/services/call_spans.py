"""Each logged call as an OpenTelemetry span, when OTEL_EXPORTER_OTLP_ENDPOINT is set (§18).

The span carries the GenAI semantic conventions' attributes (still at Development status, so
their names are kept in this one place) and ours. Spans go through the SDK's batch processor:
the call's path only hands the span to a queue, and a thread of the SDK sends the batches over
OTLP/HTTP to `<endpoint>/v1/traces`. Unset, nothing is built or sent.
"""

import logging
import threading

from flask import current_app

log = logging.getLogger(__name__)

# The GenAI semantic conventions (opentelemetry.io/docs/specs/semconv/gen-ai/), and our own.
OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
ERROR_TYPE = "error.type"
OPERATION_TYPE = "llm.operation_type"
JOB_ID = "llm.job_id"
CALL_ID = "llm.call_id"
COST_USD = "llm.cost_usd"

SERVICE_NAME = "llm-call-logging"

_providers = {}
_tracers = {}
_lock = threading.Lock()


def _tracer(endpoint):
    """This process's tracer for an endpoint, made on first use (so a forked worker makes its
    own batch thread)."""
    tracer = _tracers.get(endpoint)
    if tracer is not None:
        return tracer
    with _lock:
        if endpoint not in _tracers:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
            exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces", timeout=5)
            provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=1000))
            _providers[endpoint] = provider
            _tracers[endpoint] = provider.get_tracer(__name__)
        return _tracers[endpoint]


def flush(timeout_millis=5000):
    """Send the spans still queued (tests, and a process about to exit)."""
    for provider in list(_providers.values()):
        provider.force_flush(timeout_millis)


def provider_name(config):
    """`offline` for the built-in backend, else `openai` (the client every call goes through)."""
    return "openai" if config.get("OPENAI_API_KEY") or config.get("OPENAI_BASE_URL") else "offline"


def export(row):
    """Hand one log row to the exporter as a span; never raises, and does nothing unset."""
    config = current_app.config
    endpoint = config.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not endpoint:
        return
    try:
        _export(_tracer(endpoint), row, config)
    except Exception:
        log.warning("Could not export the span of LLM call %s", row.get("call_id"), exc_info=True)


def _export(tracer, row, config):
    from opentelemetry.trace import SpanKind, Status, StatusCode

    request_model = config.get("LLM_MODEL")
    started_ns = int(row["timestamp"].timestamp() * 1_000_000_000)
    ended_ns = started_ns + int((row.get("duration_ms") or 0) * 1_000_000)
    attributes = {
        OPERATION_NAME: "chat",
        PROVIDER_NAME: provider_name(config),
        REQUEST_MODEL: request_model,
        RESPONSE_MODEL: row.get("model"),
        INPUT_TOKENS: row.get("prompt_tokens"),
        OUTPUT_TOKENS: row.get("completion_tokens"),
        CACHE_READ_INPUT_TOKENS: row.get("cached_tokens"),
        OPERATION_TYPE: row.get("llm_operation_type"),
        JOB_ID: str(row["job_id"]) if row.get("job_id") else None,
        CALL_ID: str(row["call_id"]),
        COST_USD: float(row["cost_usd"]) if row.get("cost_usd") is not None else None,
    }
    if not row.get("success"):
        attributes[ERROR_TYPE] = row.get("error_type") or "_OTHER"
    span = tracer.start_span(
        f"chat {request_model}", kind=SpanKind.CLIENT, start_time=started_ns,
        attributes={key: value for key, value in attributes.items() if value is not None},
    )
    if not row.get("success"):
        span.set_status(Status(StatusCode.ERROR))
    span.end(end_time=ended_ns)
