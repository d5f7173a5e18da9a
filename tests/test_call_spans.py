"""Each logged call as an OpenTelemetry span (SPEC §18), sent to a local OTLP/HTTP receiver."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from sqlalchemy import select

from tests.test_operations import log_rows, poll, submit
from webapp.extensions import db
from webapp.models import LlmCallLog
from webapp.services import call_spans

pytestmark = pytest.mark.usefixtures("celery_worker")


class OtlpReceiver:
    """Takes OTLP/HTTP protobuf trace exports on /v1/traces and keeps their spans."""

    def __init__(self):
        self.paths = []
        self.spans = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.paths.append(self.path)
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        receiver.spans.extend(scope_spans.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _attributes(span):
    values = {}
    for attribute in span.attributes:
        value = attribute.value
        values[attribute.key] = getattr(value, value.WhichOneof("value"))
    return values


@pytest.fixture
def receiver(app):
    """A receiver, and the app exporting to it for the test."""
    receiver = OtlpReceiver()
    app.config["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
    yield receiver
    app.config["OTEL_EXPORTER_OTLP_ENDPOINT"] = None
    receiver.close()


def test_each_logged_call_of_a_job_is_a_span_with_the_genai_attributes(
        app, client, auth, llm, receiver):
    _, headers = auth.user()
    llm.then(status=500)  # the first attempt fails, the retry succeeds
    job = poll(client, headers, submit(client, headers).get_json()["job_id"])
    assert job["status"] == "succeeded"
    rows = log_rows(app, 2)
    call_spans.flush()
    assert receiver.paths and set(receiver.paths) == {"/v1/traces"}
    spans = {span.name: span for span in receiver.spans}
    assert list(spans) == ["chat gpt-4o-mini"]
    by_call = {_attributes(span)["llm.call_id"]: span for span in receiver.spans}
    assert set(by_call) == {str(row.call_id) for row in rows}
    failed, succeeded = rows
    attributes = _attributes(by_call[str(succeeded.call_id)])
    assert attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": succeeded.model,
        "gen_ai.usage.input_tokens": succeeded.prompt_tokens,
        "gen_ai.usage.output_tokens": succeeded.completion_tokens,
        "llm.operation_type": "workout_creation",
        "llm.job_id": job["job_id"],
        "llm.call_id": str(succeeded.call_id),
        "llm.cost_usd": float(succeeded.cost_usd),
        **({"gen_ai.usage.cache_read.input_tokens": succeeded.cached_tokens}
           if succeeded.cached_tokens is not None else {}),
    }
    span = by_call[str(succeeded.call_id)]
    assert span.start_time_unix_nano == int(succeeded.timestamp.timestamp() * 1e9)
    assert span.end_time_unix_nano - span.start_time_unix_nano == succeeded.duration_ms * 1_000_000
    failed_attributes = _attributes(by_call[str(failed.call_id)])
    assert failed_attributes["error.type"] == failed.error_type == "InternalServerError"
    assert by_call[str(failed.call_id)].status.code == 2  # STATUS_CODE_ERROR


def test_an_accept_in_the_request_is_a_span_too(app, client, auth, llm, receiver):
    _, headers = auth.user()
    created = poll(client, headers, submit(client, headers).get_json()["job_id"])
    workout_id = created["result"]["workout_id"]
    revised = poll(client, headers, submit(
        client, headers, f"/workouts/{workout_id}/revise", {"feedback": "shorter"}
    ).get_json()["job_id"])
    assert revised["status"] == "succeeded"
    response = client.post(f"/workouts/{workout_id}/revise/accept", json={}, headers=headers)
    assert response.status_code == 200
    call_spans.flush()
    with app.app_context():
        accept = db.session.scalars(select(LlmCallLog).where(
            LlmCallLog.llm_operation_type == "workout_revision_accept")).one()
    operations = {_attributes(span)["llm.call_id"]: _attributes(span)["llm.operation_type"]
                  for span in receiver.spans}
    assert operations[str(accept.call_id)] == "workout_revision_accept"


def test_without_an_endpoint_no_exporter_is_built(app, client, auth, llm):
    _, headers = auth.user()
    assert app.config["OTEL_EXPORTER_OTLP_ENDPOINT"] is None
    known = set(call_spans._providers)
    assert poll(client, headers, submit(client, headers).get_json()["job_id"])["status"] == "succeeded"
    assert log_rows(app, 1)
    assert set(call_spans._providers) == known
