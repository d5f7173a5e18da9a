"""The dashboard and /docs in a real browser: headless Chromium against the app on a port.

Signs in with a token, checks the cards against my-summary, filters, pages by cursor, opens a
log, signs out; an admin's page and a user's 403; /docs renders every operation. No request
may leave the app's host (tests/browser.py refuses and records any that tries).
"""

import json
import re
import uuid
from decimal import Decimal

import pytest

from tests import browser as chromium
from tests.log_factories import LlmCallLogFactory, ago

_WHY = chromium.unavailable()
if _WHY:
    pytest.skip(_WHY, allow_module_level=True)

CARD_KEYS = ["total_calls", "success_rate", "average_duration_ms", "p95_duration_ms",
             "total_tokens", "total_cost_usd"]


@pytest.fixture(scope="module")
def live_server(app):
    """The app on a free loopback port."""
    server = chromium.LiveServer(app)
    yield server
    server.close()


@pytest.fixture(scope="module")
def browser(live_server):
    """One headless Chromium for the module, with a fresh profile."""
    instance = chromium.Browser(live_server.host)
    yield instance
    instance.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context's page; after the test, no request may have left the host."""
    browser.outside.clear()
    tab = browser.page()
    yield tab
    tab.context.close()
    assert browser.outside == [], f"requests left the host: {browser.outside}"


def _token(headers):
    return headers["Authorization"].removeprefix("Bearer ")


def _sign_in(page, live_server, headers):
    page.goto(f"{live_server.url}/dashboard/")
    page.fill('input[name="token"]', _token(headers))
    page.click('[data-action="sign-in"]')
    page.wait_for_selector('[data-action="sign-out"]')


def _log_ids(page):
    return [int(row.get_attribute("data-log-id")) for row in page.query_selector_all("tr[data-log-id]")]


def _calls(user_id, count, **fields):
    return [LlmCallLogFactory(user_id=str(user_id), **fields) for _ in range(count)]


def _varied_calls(user_id):
    """Calls over several days with tokens, costs, failures and different durations."""
    for index in range(12):
        LlmCallLogFactory(
            user_id=str(user_id), timestamp=ago(days=index % 5, minutes=index),
            duration_ms=200 + 137 * index, success=index % 4 != 0,
            total_tokens=1000 + index * 250, cost_usd=Decimal("0.001234") * (index + 1),
            llm_operation_type="workout_creation" if index % 2 else "workout_revision",
            endpoint_name="llm/create-workout" if index % 2 else "workouts/{workout_id}/revise",
        )


def _jobs(user_id, statuses):
    """Jobs of the user, one per status, as the job table holds them."""
    from webapp.extensions import db
    from webapp.models import Job

    jobs = [Job(user_id=user_id, operation_type="workout_creation", status=status, payload={},
                request_meta={}) for status in statuses]
    db.session.add_all(jobs)
    db.session.commit()
    return jobs


def test_a_wrong_token_keeps_you_signed_out_with_an_alert(page, live_server):
    page.goto(f"{live_server.url}/")
    assert page.url == f"{live_server.url}/dashboard/"
    page.fill('input[name="token"]', "not-a-token")
    page.click('[data-action="sign-in"]')
    assert page.locator('[role="alert"]').is_visible()
    assert "not valid" in page.locator('[role="alert"]').inner_text()
    assert page.locator('[data-action="sign-out"]').count() == 0
    assert page.context.cookies() == [] or all(
        "token_hash" not in c["value"] for c in page.context.cookies())


def test_cards_equal_my_summary_and_the_session_cookie_is_http_only(
        page, live_server, client, auth, app_ctx):
    user_id, headers = auth.user()
    _varied_calls(user_id)
    _jobs(user_id, ("succeeded", "running", "failed"))
    _sign_in(page, live_server, headers)
    assert _token(headers) not in page.url
    for days in (7, 1, 30):
        page.goto(f"{live_server.url}/dashboard/?days={days}")
        summary = client.get(f"/llm-logs/my-summary?days={days}", headers=headers).get_json()
        for key in CARD_KEYS:
            card = page.locator(f'[data-metric="{key}"]')
            value = card.get_attribute("data-value")
            expected = summary[key]
            assert (value == "" if expected is None else json.loads(value) == expected), key
    page.goto(f"{live_server.url}/dashboard/?days=30")
    summary = client.get("/llm-logs/my-summary?days=30", headers=headers).get_json()
    assert page.locator('[data-metric="total_tokens"]').inner_text().endswith(
        f"{summary['total_tokens']:,}")
    assert page.locator('[data-metric="success_rate"]').inner_text().endswith(
        f"{summary['success_rate']:.2f} %")
    assert page.locator('[data-metric="average_duration_ms"]').inner_text().endswith(" ms")
    assert "$" in page.locator('[data-metric="total_cost_usd"]').inner_text()
    assert page.locator('[data-chart="calls-per-day"] svg').count() == 1
    assert page.locator('[data-chart="latency-per-day"] svg polyline').count() == 2
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert _token(headers) not in cookie["value"]
    chromium.screenshot(page, "dashboard-user")


def test_the_phone_layout_keeps_every_card(browser, live_server, auth, app_ctx):
    user_id, headers = auth.user()
    _varied_calls(user_id)
    phone = browser.page(viewport={"width": 390, "height": 844})
    try:
        _sign_in(phone, live_server, headers)
        for key in CARD_KEYS:
            box = phone.locator(f'[data-metric="{key}"]').bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, key
        chromium.screenshot(phone, "dashboard-user-phone")
    finally:
        phone.context.close()
    assert browser.outside == []


def test_the_log_table_filters_and_pages_by_cursor_as_my_logs_does(
        page, live_server, client, auth, app_ctx):
    user_id, headers = auth.user()
    for index in range(130):
        LlmCallLogFactory(user_id=str(user_id), timestamp=ago(minutes=index),
                          success=index % 3 != 0)
    _sign_in(page, live_server, headers)
    first = client.get("/llm-logs/my-logs?limit=100", headers=headers).get_json()
    assert _log_ids(page) == [item["id"] for item in first["items"]]
    page.click('[data-action="next-page"]')
    page.wait_for_url(re.compile(r"cursor="))
    second = client.get(f"/llm-logs/my-logs?limit=100&cursor={first['next_cursor']}",
                        headers=headers).get_json()
    assert _log_ids(page) == [item["id"] for item in second["items"]]
    assert len(_log_ids(page)) == 30
    assert page.locator('[data-action="next-page"]').count() == 0

    page.select_option('select[name="success"]', "false")
    page.click('[data-action="filter"]')
    page.wait_for_url(re.compile(r"success=false"))
    failed = client.get("/llm-logs/my-logs?limit=100&success=false", headers=headers).get_json()
    assert _log_ids(page) == [item["id"] for item in failed["items"]]
    assert len(failed["items"]) == 44


def test_a_log_page_shows_every_field_and_the_request_data_as_stored(
        page, live_server, client, auth, app_ctx):
    user_id, headers = auth.user()
    stored = {"prompt": "legs <b>and</b> core", "nested": {"weeks": 3}}
    (log,) = _calls(user_id, 1, request_data=stored, model="gpt-4o-mini", total_tokens=1234)
    other = LlmCallLogFactory(user_id=str(uuid.uuid4()))
    _sign_in(page, live_server, headers)
    page.click(f'tr[data-log-id="{log.id}"] a')
    page.wait_for_url(f"{live_server.url}/dashboard/logs/{log.id}")
    api = client.get(f"/llm-logs/{log.id}", headers=headers).get_json()
    for name in api:
        assert page.locator(f'[data-field="{name}"]').count() == 1, name
    assert json.loads(page.locator('[data-field="request_data"]').inner_text()) == stored
    assert "gpt-4o-mini" in page.locator('[data-field="model"]').inner_text()
    chromium.screenshot(page, "dashboard-log")
    response = page.goto(f"{live_server.url}/dashboard/logs/{other.id}")
    assert response.status == 404
    assert page.locator("h1").inner_text().startswith("404")


def test_signing_out_shows_the_sign_in_form_again(page, live_server, auth, app_ctx):
    _, headers = auth.user()
    _sign_in(page, live_server, headers)
    page.click('[data-action="sign-out"]')
    page.wait_for_selector('input[name="token"]')
    page.goto(f"{live_server.url}/dashboard/")
    assert page.locator('input[name="token"]').count() == 1
    assert page.locator('[data-metric]').count() == 0


def test_the_jobs_list_shows_each_job_with_its_status(page, live_server, auth, app_ctx):
    user_id, headers = auth.user()
    jobs = _jobs(user_id, ("queued", "succeeded", "failed"))
    _sign_in(page, live_server, headers)
    for job in jobs:
        row = page.locator(f'tr[data-job-id="{job.id}"]')
        assert row.get_attribute("data-status") == job.status
        assert job.status in row.inner_text()


def test_an_admin_sees_everyones_figures_and_the_analytics(page, live_server, client, auth, app_ctx):
    heavy, _ = auth.user()
    light, _ = auth.user()
    _varied_calls(heavy)
    _calls(light, 2, success=False, error_type="RateLimitError", http_status_code=429)
    _, admin = auth.admin()
    _sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/dashboard/admin")
    assert page.locator('[data-metric="total_calls"]').get_attribute("data-value") == "14"
    top = client.get("/llm-logs/stats/top-users?days=7", headers=admin).get_json()["items"]
    shown = [row.get_attribute("data-user-id")
             for row in page.query_selector_all(".top-users tr[data-user-id]")]
    assert shown == [item["user_id"] for item in top]
    for item in client.get("/llm-logs/stats/error-rates?days=7", headers=admin).get_json()["items"]:
        row = page.locator(f'.error-rates tr[data-operation="{item["llm_operation_type"]}"]')
        assert json.loads(row.locator("[data-value]").get_attribute("data-value")) == item["error_rate"]
    for item in client.get("/llm-logs/stats/endpoint-latency?days=7",
                           headers=admin).get_json()["items"]:
        assert page.locator(f'.endpoint-latency tr[data-endpoint="{item["endpoint_name"]}"]').count() == 1
    assert len(page.query_selector_all(".logs tr[data-log-id]")) == 14
    chromium.screenshot(page, "dashboard-admin")

    page.fill('input[name="user_id"]', str(light))
    page.click('[data-action="filter"]')
    page.wait_for_url(re.compile(r"user_id="))
    assert page.locator('[data-metric="total_calls"]').get_attribute("data-value") == "2"
    assert page.locator('[data-metric="success_rate"]').get_attribute("data-value") == "0.0"
    assert len(page.query_selector_all(".logs tr[data-log-id]")) == 2


def test_a_user_gets_a_403_page_for_the_admin_page(page, live_server, auth, app_ctx):
    _, headers = auth.user()
    _sign_in(page, live_server, headers)
    response = page.goto(f"{live_server.url}/dashboard/admin")
    assert response.status == 403
    assert page.locator("h1").inner_text().startswith("403")


def test_docs_render_every_operation_with_nothing_from_outside(page, live_server, client, browser):
    spec = client.get("/openapi.json").get_json()
    operations = sum(len([m for m in methods if m in {"get", "post", "put", "patch", "delete"}])
                     for methods in spec["paths"].values())
    browser.requests.clear()
    page.goto(f"{live_server.url}/docs")
    page.wait_for_selector(".opblock")
    page.wait_for_function(
        f"document.querySelectorAll('.opblock').length >= {operations}", timeout=15000)
    assert page.locator(".opblock").count() == operations
    assert page.locator("text=Unable to render this definition").count() == 0
    assert any(url.endswith("/docs/assets/swagger-ui-bundle.js") for url in browser.requests)
    assert any("favicon" in url for url in browser.requests)
    chromium.screenshot(page, "docs")
