"""The dashboard over HTTP, without a browser: sign-in, cookie, CSRF, HTML errors, its services."""

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from tests.log_factories import LlmCallLogFactory, ago
from webapp.extensions import db
from webapp.services import log_daily, log_overview
from webapp.services.log_rollups import utc_now


def _csrf(client, path="/dashboard/"):
    page = client.get(path)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def _sign_in(client, headers):
    token = headers["Authorization"].removeprefix("Bearer ")
    return client.post("/dashboard/sign-in", data={"token": token, "csrf_token": _csrf(client)})


def test_the_root_redirects_to_the_dashboard(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard/"


def test_signed_out_the_dashboard_shows_the_sign_in_form(client):
    response = client.get("/dashboard/")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert 'name="token"' in body and 'data-action="sign-out"' not in body


def test_sign_in_without_a_csrf_token_is_refused(client, auth):
    _, headers = auth.user()
    client.get("/dashboard/")
    response = client.post("/dashboard/sign-in",
                           data={"token": headers["Authorization"].removeprefix("Bearer ")})
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert 'data-action="sign-out"' not in client.get("/dashboard/").get_data(as_text=True)


def test_sign_out_without_a_csrf_token_keeps_the_session(client, auth):
    _, headers = auth.user()
    _sign_in(client, headers)
    assert client.post("/dashboard/sign-out").status_code == 400
    assert client.get("/dashboard/").status_code == 200


def test_the_session_cookie_is_http_only_lax_and_holds_no_token(client, auth):
    _, headers = auth.user()
    response = _sign_in(client, headers)
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert headers["Authorization"].removeprefix("Bearer ") not in cookie


def test_the_cookie_is_secure_over_https(app, auth):
    _, headers = auth.user()
    client = app.test_client()
    client.get("/dashboard/", base_url="https://localhost")
    token = _csrf(client)
    # No Referer: the CSRF token is what counts (a browser or proxy may send none).
    response = client.post("/dashboard/sign-in", base_url="https://localhost",
                           data={"token": headers["Authorization"].removeprefix("Bearer "),
                                 "csrf_token": token})
    assert response.status_code == 303
    assert "Secure" in response.headers["Set-Cookie"]


def test_the_cookie_is_secure_behind_a_trusted_tls_proxy(config_class, auth):
    from webapp import create_app

    class BehindProxy(config_class):
        TRUSTED_PROXY_HOPS = 1

    client = create_app(BehindProxy).test_client()
    _, headers = auth.user()
    proto = {"X-Forwarded-Proto": "https", "Referer": "https://localhost/dashboard/"}
    token = _csrf(client)
    response = client.post("/dashboard/sign-in", headers=proto, data={
        "token": headers["Authorization"].removeprefix("Bearer "), "csrf_token": token})
    assert response.status_code == 303
    assert "Secure" in response.headers["Set-Cookie"]


def test_a_revoked_token_ends_the_session(client, auth, runner, app):
    from webapp.models import User

    user_id, headers = auth.user()
    _sign_in(client, headers)
    with app.app_context():
        email = db.session.get(User, user_id).email
    runner.invoke(args=["users", "revoke", email])
    assert 'name="token"' in client.get("/dashboard/").get_data(as_text=True)


def test_the_api_takes_no_csrf_token_and_answers_json(client, auth, app_ctx):
    _, headers = auth.user()
    response = client.post("/llm/create-workout", json={"prompt": "legs"}, headers=headers)
    assert response.status_code == 202
    assert client.get("/llm-logs/99", headers=headers).mimetype == "application/json"


@pytest.mark.parametrize("query", ["days=5", "days=abc", "success=maybe", "cursor=x"])
def test_bad_filters_are_a_400_page(client, auth, query):
    _, headers = auth.user()
    _sign_in(client, headers)
    response = client.get(f"/dashboard/?{query}")
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert 'role="alert"' in response.get_data(as_text=True)


@pytest.mark.parametrize("query", ["user_id=%00", "user_id=a%00b", "user_id=" + "a" * 37,
                                   "user_id=x&days=5"])
def test_a_bad_user_filter_on_the_admin_page_is_a_400_page(client, auth, query):
    _, headers = auth.admin()
    _sign_in(client, headers)
    response = client.get(f"/dashboard/admin?{query}")
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert 'role="alert"' in response.get_data(as_text=True)


def test_a_user_gets_a_403_page_and_another_users_log_a_404_page(client, auth, app_ctx):
    _, headers = auth.user()
    other = LlmCallLogFactory(user_id=str(uuid.uuid4()))
    _sign_in(client, headers)
    forbidden = client.get("/dashboard/admin")
    assert forbidden.status_code == 403 and forbidden.mimetype == "text/html"
    missing = client.get(f"/dashboard/logs/{other.id}")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert client.get("/dashboard/logs/abc").status_code == 404


def test_the_docs_page_loads_nothing_from_outside(client):
    body = client.get("/docs").get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', body)
    assert sources and all(source.startswith("/") for source in sources), sources
    for source in sources:
        if source != "/openapi.json":
            assert client.get(source).status_code == 200, source
    assert "validatorUrl" in body


def test_swagger_ui_is_version_5():
    from webapp.api_docs import DIST

    assert (DIST / "VERSION").read_text().strip().startswith("v5.")


# --- the services behind the charts and the admin's cards --------------------------------------


def test_everyones_summary_equals_sql_over_the_rows(app_ctx):
    now = utc_now()
    for index in range(40):
        LlmCallLogFactory(user_id=f"u{index % 3}", timestamp=now - timedelta(hours=index * 5),
                          success=index % 4 != 0, duration_ms=100 + index * 31,
                          total_tokens=index * 10, cost_usd=Decimal("0.000125") * index)
    summary = log_overview.everyone_summary(7, now=now)
    expected = db.session.execute(text("""
        SELECT count(*), count(*) FILTER (WHERE success), round(avg(duration_ms), 2),
               coalesce(sum(total_tokens), 0), coalesce(sum(cost_usd), 0)
        FROM llm_call_logs WHERE "timestamp" >= :since
    """), {"since": now - timedelta(days=7)}).one()
    assert summary["total_calls"] == expected[0]
    assert summary["successful_calls"] == expected[1]
    assert summary["average_duration_ms"] == float(expected[2])
    assert summary["total_tokens"] == expected[3]
    assert summary["total_cost_usd"] == float(expected[4])
    assert sum(day["total_calls"] for day in summary["daily"]) == expected[0]
    p50, p95 = log_overview.everyone_percentiles(7, now=now)
    exact = db.session.execute(text("""
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms),
               percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)
        FROM llm_call_logs WHERE "timestamp" >= :since
    """), {"since": now - timedelta(days=7)}).one()
    assert p50 == pytest.approx(exact[0], rel=0.01, abs=1)
    assert p95 == pytest.approx(exact[1], rel=0.01, abs=1)


def test_a_users_daily_percentiles_are_within_one_percent_of_sql(app_ctx):
    now = utc_now()
    for index in range(60):
        LlmCallLogFactory(user_id="u1", timestamp=now - timedelta(hours=index * 2),
                          duration_ms=150 + (index * 97) % 2000)
    series = log_daily.user_daily_latency("u1", 7, now=now)
    rows = db.session.execute(text("""
        SELECT date_trunc('day', "timestamp", 'UTC')::date AS day,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95
        FROM llm_call_logs WHERE user_id = 'u1' AND "timestamp" >= :since GROUP BY 1
    """), {"since": now - timedelta(days=7)}).all()
    by_day = {point["date"]: point for point in series}
    assert len(rows) >= 5
    for row in rows:
        point = by_day[row.day.isoformat()]
        assert point["p50_duration_ms"] == pytest.approx(row.p50, rel=0.01, abs=1)
        assert point["p95_duration_ms"] == pytest.approx(row.p95, rel=0.01, abs=1)
    assert len(series) == 8


def _next_page(body):
    link = re.search(r'href="\?([^"]+)" data-action="next-page"', body)
    return link and link.group(1).replace("&amp;", "&")


def _row_ids(body):
    return [int(i) for i in re.findall(r'<tr data-log-id="(\d+)"', body)]


def test_the_admin_listing_pages_by_cursor_as_the_admin_route_does(client, auth, app_ctx):
    for index in range(130):
        LlmCallLogFactory(user_id=f"u{index % 2}", timestamp=ago(minutes=index))
    _, admin = auth.admin()
    _sign_in(client, admin)
    first = client.get("/dashboard/admin").get_data(as_text=True)
    api = client.get("/llm-logs/?limit=100", headers=admin).get_json()
    assert _row_ids(first) == [item["id"] for item in api["items"]]
    second = client.get("/dashboard/admin?" + _next_page(first))
    assert second.status_code == 200
    rest = client.get(f"/llm-logs/?limit=100&cursor={api['next_cursor']}", headers=admin).get_json()
    assert _row_ids(second.get_data(as_text=True)) == [item["id"] for item in rest["items"]]
    assert _next_page(second.get_data(as_text=True)) is None


def test_the_admin_page_shows_the_costliest_calls_by_model_and_the_alert_events(
        client, auth, app_ctx):
    from webapp.services import alerts

    _, headers = auth.admin()
    cheap = LlmCallLogFactory(cost_usd=Decimal("0.000100"), model="gpt-4o-mini-2024-07-18",
                              prompt_name="workout", prompt_version=1)
    dear = LlmCallLogFactory(cost_usd=Decimal("0.250000"), model="gpt-4o-mini-2024-07-18",
                             prompt_name="workout", prompt_version=1)
    rule = alerts.create_rule("any call", "calls", 10, 0)
    alerts.evaluate_every_rule()
    _sign_in(client, headers)
    body = client.get("/dashboard/admin").get_data(as_text=True)
    costliest = re.findall(r'data-costliest-log-id="(\d+)"', body)
    assert costliest == [str(dear.id), str(cheap.id)]
    assert re.search(r'data-model="gpt-4o-mini-2024-07-18" data-prompt-version="1"', body)
    assert re.search(r'data-alert-event-id="\d+" data-state="firing"', body)
    assert rule.name in body


def test_a_cookie_kept_from_before_sign_out_no_longer_signs_in(client, auth, app):
    _, headers = auth.user()
    _sign_in(client, headers)
    kept = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    signed_out = client.post("/dashboard/sign-out", data={"csrf_token": _csrf(client)})
    assert signed_out.status_code == 303
    replay = app.test_client()
    replay.set_cookie(app.config["SESSION_COOKIE_NAME"], kept)
    page = replay.get("/dashboard/").get_data(as_text=True)
    assert 'name="token"' in page and 'data-action="sign-out"' not in page
    # The API token itself still works: signing out ends the session, not the token.
    assert client.get("/me", headers=headers).status_code == 200


def test_signing_in_again_ends_the_session_it_replaces(client, auth, app):
    _, headers = auth.user()
    _sign_in(client, headers)
    first = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert _sign_in(client, headers).status_code == 303
    replay = app.test_client()
    replay.set_cookie(app.config["SESSION_COOKIE_NAME"], first)
    assert 'name="token"' in replay.get("/dashboard/").get_data(as_text=True)
    assert 'data-action="sign-out"' in client.get("/dashboard/").get_data(as_text=True)


def test_dashboard_sessions_are_no_tokens_and_go_with_their_user(client, auth, app):
    """Signing in and out makes no API token (an erasure still counts the user's one), and
    erasing the user ends a session still open."""
    user_id, headers = auth.user()
    _, admin = auth.admin()
    _sign_in(client, headers)
    client.post("/dashboard/sign-out", data={"csrf_token": _csrf(client)})
    _sign_in(client, headers)
    assert 'data-action="sign-out"' in client.get("/dashboard/").get_data(as_text=True)
    counts = app.test_client().delete(f"/admin/users/{user_id}", headers=admin).get_json()
    assert counts["tokens"] == 1
    assert 'name="token"' in client.get("/dashboard/").get_data(as_text=True)
    with app.app_context():
        from webapp.extensions import db
        from webapp.models import DashboardSession

        assert db.session.query(DashboardSession).filter_by(user_id=user_id).count() == 0
