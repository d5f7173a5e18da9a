"""X-Request-ID on every answer, carried with the job into the worker and into its log row."""

import io
import json
import logging

import pytest

from tests.test_operations import PLAN, log_rows, poll, submit
from webapp.json_logging import json_handler


def test_every_answer_carries_a_new_request_id_when_the_client_sent_none(client):
    response = client.get("/me")
    assert response.status_code == 401
    request_id = response.headers["X-Request-ID"]
    assert 1 <= len(request_id) <= 128
    assert client.get("/no/such/route").headers["X-Request-ID"] != request_id


def test_a_valid_client_request_id_is_sent_back(client, auth):
    _, headers = auth.user()
    response = client.get("/me", headers={**headers, "X-Request-ID": "web-1.abc_DEF"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "web-1.abc_DEF"


@pytest.mark.parametrize("sent", ["", "has space", "x" * 129, "semi;colon", "ümlaut"])
def test_an_invalid_client_request_id_is_replaced(client, sent):
    response = client.get("/no/such/route", headers={"X-Request-ID": sent})
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] not in ("", sent)


def test_an_error_answer_carries_the_request_id_too(client, auth):
    _, headers = auth.user()
    response = client.post("/llm/create-workout", data="{", headers={
        **headers, "Content-Type": "application/json", "X-Request-ID": "bad-body-1"})
    assert response.status_code == 400
    assert response.headers["X-Request-ID"] == "bad-body-1"


@pytest.mark.usefixtures("celery_worker")
def test_the_request_id_travels_with_the_job_into_its_log_row(app, client, auth, llm):
    _, headers = auth.user()
    response = submit(client, headers, extra_headers={"X-Request-ID": "trace-create-1"})
    assert response.headers["X-Request-ID"] == "trace-create-1"
    assert poll(client, headers, response.get_json()["job_id"])["status"] == "succeeded"
    [row] = log_rows(app, 1)
    assert row.request_id == "trace-create-1"


def test_an_accept_row_carries_the_request_id_of_its_request(app, client, auth):
    _, headers = auth.user()
    client.post("/workouts/1/revise/accept", json={}, headers={**headers, "X-Request-ID": "acc-9"})
    [row] = log_rows(app, 1)
    assert row.request_id == "acc-9" and row.http_status_code == 404


@pytest.mark.usefixtures("celery_worker")
def test_log_lines_are_json_with_ids_and_never_secrets(app, client, auth, llm):
    """Every line the app and worker log during a job is a JSON object; the job's lines name
    its job_id and request_id; no bearer token, API key or health_notes text appears."""
    stream = io.StringIO()
    handler = json_handler(stream, secrets=[app.config["OPENAI_API_KEY"]])
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.DEBUG)
    llm.then(status=500)  # one failed attempt, so the worker logs about the job
    try:
        _, headers = auth.user()
        token = headers["Authorization"].split()[1]
        secret_notes = "knee-surgery-7f3a9c"
        response = submit(client, headers, path="/llm/create-training-principles",
                          body={**PLAN, "health_notes": secret_notes},
                          extra_headers={"X-Request-ID": "trace-plan-1"})
        job_id = response.get_json()["job_id"]
        assert poll(client, headers, job_id)["status"] == "succeeded"
        logging.getLogger("webapp.test").info("token %s in a message", f"Bearer {token}")
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    text = stream.getvalue()
    for secret in (token, app.config["OPENAI_API_KEY"], secret_notes):
        assert secret not in text
    job_lines = [line for line in lines if line.get("job_id") == job_id]
    assert job_lines and all(line["request_id"] == "trace-plan-1" for line in job_lines)


@pytest.mark.usefixtures("celery_worker")
def test_a_key_fragment_the_provider_quotes_never_reaches_the_log(app, client, auth, llm):
    """The provider's 401 names part of the API key; the server-side log keeps the rest of
    its text, not that part."""
    stream = io.StringIO()
    handler = json_handler(stream, secrets=[app.config["OPENAI_API_KEY"]])
    root = logging.getLogger()
    root.addHandler(handler)
    llm.then(status=401, body={"error": {
        "message": "Incorrect API key provided: sk-proj-Ab3d************************wXyZ.",
        "type": "invalid_request_error", "code": "invalid_api_key"}})
    try:
        _, headers = auth.user()
        job_id = submit(client, headers).get_json()["job_id"]
        assert poll(client, headers, job_id)["status"] == "failed"
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert "Incorrect API key provided" in text
    assert "sk-proj" not in text and "Ab3d" not in text
