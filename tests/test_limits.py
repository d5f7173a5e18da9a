"""Rate limit and daily budgets: 429 with Retry-After, no job, no log row, counted."""

from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from tests.log_factories import LlmCallLogFactory
from tests.test_metrics import sample, scrape
from tests.test_operations import PLAN, count, poll, submit
from webapp.extensions import db
from webapp.models import Job, LlmCallLog


def now():
    """This instant: a row of today (UTC) even just after midnight."""
    return datetime.now(timezone.utc)


@contextmanager
def configured(app, **settings):
    saved = {key: app.config.get(key) for key in settings}
    app.config.update(settings)
    try:
        yield
    finally:
        app.config.update(saved)


def assert_refused(response, limit):
    assert response.status_code == 429, response.get_json()
    body = response.get_json()
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["details"] == {"limit": limit}
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit() and int(retry_after) >= 1
    return int(retry_after)


def test_the_rate_limit_counts_the_three_llm_routes_together(app, client, auth):
    _, headers = auth.user()
    before = sample(scrape(client), "llm_requests_refused_total", reason="rate_limit")
    with configured(app, RATE_LIMIT_PER_MINUTE=2):
        accepted = [submit(client, headers).get_json()["job_id"],
                    submit(client, headers, path="/llm/create-training-principles",
                           body=PLAN).get_json()["job_id"]]
        refused = client.post("/llm/create-workout", json={"prompt": "more"}, headers=headers)
        assert assert_refused(refused, "rate_limit") <= 60
        # Another user has a window of their own.
        _, other = auth.user()
        accepted.append(submit(client, other).get_json()["job_id"])
    assert count(app, Job) == 3
    with app.app_context():  # a worker may be running the accepted jobs; the refusal made none
        logged = {str(job_id) for job_id in db.session.scalars(select(LlmCallLog.job_id))}
    assert logged <= set(accepted)
    assert sample(scrape(client), "llm_requests_refused_total", reason="rate_limit") == before + 1


def test_a_repeat_under_its_idempotency_key_is_no_new_submit(app, client, auth):
    _, headers = auth.user()
    key = {"Idempotency-Key": "repeat-me"}
    with configured(app, RATE_LIMIT_PER_MINUTE=1):
        first = submit(client, headers, extra_headers=key).get_json()
        # The repeat gets the same job, and does not use up the window.
        assert submit(client, headers, extra_headers=key).get_json() == first
        assert submit(client, headers, extra_headers=key).get_json() == first
        assert_refused(client.post("/llm/create-workout", json={"prompt": "new"},
                                   headers=headers), "rate_limit")
    assert count(app, Job) == 1


def test_the_rate_limit_holds_across_web_processes(app, config_class, auth):
    """Two apps (as two gunicorn workers would be) share one window through Redis."""
    from webapp import create_app

    other_app = create_app(config_class)
    _, headers = auth.user()
    with configured(app, RATE_LIMIT_PER_MINUTE=1), configured(other_app, RATE_LIMIT_PER_MINUTE=1):
        submit(app.test_client(), headers)
        refused = other_app.test_client().post("/llm/create-workout", json={"prompt": "x"},
                                               headers=headers)
        assert_refused(refused, "rate_limit")


def test_without_limits_nothing_is_refused(app, client, auth):
    _, headers = auth.user()
    for _ in range(5):
        submit(client, headers)


def test_a_spent_token_budget_refuses_until_midnight_utc(app, client, auth):
    user_id, headers = auth.user()
    with app.app_context():
        LlmCallLogFactory(user_id=str(user_id), timestamp=now(), total_tokens=900)
    with configured(app, DAILY_TOKEN_BUDGET=1000):
        submit(client, headers)  # below the budget: accepted, whatever the call will spend
        with app.app_context():
            LlmCallLogFactory(user_id=str(user_id), timestamp=now(), total_tokens=100)
        retry_after = assert_refused(
            client.post("/llm/create-workout", json={"prompt": "x"}, headers=headers),
            "daily_token_budget")
        assert retry_after <= 24 * 3600
    assert count(app, Job) == 1


def test_a_spent_cost_budget_refuses(app, client, auth):
    user_id, headers = auth.user()
    with app.app_context():
        LlmCallLogFactory(user_id=str(user_id), timestamp=now(), cost_usd=0.05)
    with configured(app, DAILY_COST_BUDGET_USD=0.05):
        refused = client.post("/llm/create-training-principles", json=PLAN, headers=headers)
        assert_refused(refused, "daily_cost_budget")


@pytest.mark.usefixtures("celery_worker")
def test_a_calls_tokens_count_as_soon_as_its_job_ended(app, client, auth, llm):
    _, headers = auth.user()
    with configured(app, DAILY_TOKEN_BUDGET=1):
        job = poll(client, headers, submit(client, headers).get_json()["job_id"])
        assert job["status"] == "succeeded"
        assert_refused(client.post("/llm/create-workout", json={"prompt": "x"}, headers=headers),
                       "daily_token_budget")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LlmCallLog)) == 1
