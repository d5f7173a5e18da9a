"""Error text for people (SPEC 9): no key fragment, no database detail, no class name of ours."""

import pytest
import sqlalchemy.exc

from tests.test_operations import log_rows, poll, submit
from webapp.error_text import public_message

# What OpenAI's 401 says, key fragment included.
LEAKY_401 = {"error": {"message": "Incorrect API key provided: sk-proj-abc1****************wxyz. "
                                  "You can find your API key at https://platform.openai.com.",
                       "type": "invalid_request_error", "code": "invalid_api_key"}}


def test_an_upstream_401_is_summarised_in_the_job_and_the_log(app, client, auth, llm,
                                                              celery_worker):
    llm.then(status=401, body=LEAKY_401)
    _, headers = auth.user()
    job = poll(client, headers, submit(client, headers).get_json()["job_id"])
    assert job["status"] == "failed"
    assert job["error"]["message"] == "The LLM provider refused the request (401)."
    [row] = log_rows(app, 1)
    assert row.error_message == "The LLM provider refused the request (401)."
    assert "sk-" not in row.error_message and row.http_status_code == 401


@pytest.mark.parametrize("status, text", [
    (429, "The LLM provider rate-limited the request (429)."),
    (503, "The LLM provider failed to answer (503)."),
    (400, "The LLM provider refused the request (400)."),
])
def test_upstream_errors_are_summarised_by_status(app, client, auth, llm, celery_worker,
                                                  status, text):
    for _ in range(3):
        llm.then(status=status, body=LEAKY_401, headers={"Retry-After": "0"})
    _, headers = auth.user()
    job = poll(client, headers, submit(client, headers).get_json()["job_id"])
    assert job["error"]["message"] == text
    assert all(row.error_message == text for row in log_rows(app, 1))


def test_a_database_error_names_no_host_user_or_sql():
    raw = ('(psycopg.OperationalError) connection failed: connection to server at "10.1.2.3", '
           'port 5432 failed: FATAL: password authentication failed for user "llmlog"')
    exc = sqlalchemy.exc.OperationalError("SELECT * FROM llm_jobs", {}, Exception(raw))
    assert public_message(exc) == "The database was unavailable."
    integrity = sqlalchemy.exc.IntegrityError("INSERT INTO llm_jobs ...", {}, Exception("dup"))
    assert public_message(integrity) == "The database refused the operation."


def test_our_own_texts_stay_and_key_shaped_strings_are_taken_out():
    assert public_message(ValueError("model said no")) == "model said no"
    assert public_message(RuntimeError("with sk-live-1234abcd inside")) == (
        "with [REDACTED] inside")
