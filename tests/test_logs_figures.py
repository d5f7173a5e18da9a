"""The summary and the analytics equal the same computation in plain SQL on the same rows."""

from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import text

from tests.log_factories import LlmCallLogFactory, ago
from tests.seed_queries import SEED_ENDPOINT_LATENCY, SEED_ERROR_RATES, SEED_TOP_USERS
from webapp.extensions import db

SUMMARY_KEYS = [
    "total_calls", "successful_calls", "failed_calls", "success_rate", "average_duration_ms",
    "most_used_endpoints", "operation_types", "error_types", "date_range",
]

REVISE = "workouts/{workout_id}/revise"
ACCEPT = "workouts/{workout_id}/revise/accept"
PLAN = "llm/create-training-principles"


def _sql(query, **params):
    return db.session.execute(text(query), params).all()


def _summary(client, headers, days=7):
    response = client.get("/llm-logs/my-summary", headers=headers, query_string={"days": days})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _sql_summary(user_id, days):
    """The seed's summary, computed in SQL over the same window."""
    window = "user_id = :u AND timestamp >= now() - make_interval(hours => :days * 24)"
    params = {"u": user_id, "days": days}
    [totals] = _sql(
        f"""SELECT count(*) AS total,
                   count(*) FILTER (WHERE success) AS ok,
                   count(*) FILTER (WHERE NOT success) AS failed,
                   round(100.0 * count(*) FILTER (WHERE success) / nullif(count(*), 0), 2) AS rate,
                   round(avg(duration_ms), 2) AS avg
            FROM llm_call_logs WHERE {window}""",
        **params,
    )

    def counts(column, extra=""):
        rows = _sql(
            f"""SELECT {column} AS k, count(*) AS n FROM llm_call_logs
                WHERE {window} AND {column} IS NOT NULL {extra}
                GROUP BY {column} ORDER BY n DESC, {column}""",
            **params,
        )
        return {row.k: row.n for row in rows}

    today = datetime.now(timezone.utc).date()
    return {
        "total_calls": totals.total,
        "successful_calls": totals.ok,
        "failed_calls": totals.failed,
        "success_rate": float(totals.rate) if totals.rate is not None else 0.0,
        "average_duration_ms": float(totals.avg) if totals.avg is not None else None,
        "most_used_endpoints": dict(list(counts("endpoint_name").items())[:10]),
        "operation_types": counts("llm_operation_type"),
        "error_types": counts("error_type", "AND NOT success"),
        "date_range": f"{today - timedelta(days=days)} to {today}",
    }


def _seed_rows(user_id):
    """A mixed week for one user, and calls of another user and of long ago that must not count."""
    spec = [
        # (endpoint, operation, success, duration, error type, hours ago)
        ("llm/create-workout", "workout_creation", True, 1000, None, 1),
        ("llm/create-workout", "workout_creation", True, 1500, None, 30),
        ("llm/create-workout", "workout_creation", False, 60000, "APITimeoutError", 50),
        ("llm/create-workout", "workout_creation", False, 20, "RateLimitError", 51),
        (REVISE, "workout_revision", True, 800, None, 2),
        (REVISE, "workout_revision", False, None, "InvalidLLMOutput", 3),
        (PLAN, "training_principles_creation", True, 2000, None, 100),
        (ACCEPT, "workout_revision_accept", False, 12, "Conflict", 150),
        (ACCEPT, None, True, 7, None, 160),
    ]
    for endpoint, operation, success, duration, error_type, hours in spec:
        LlmCallLogFactory(
            user_id=user_id, endpoint_name=endpoint, llm_operation_type=operation,
            success=success, duration_ms=duration, error_type=error_type,
            timestamp=ago(hours=hours), total_tokens=100, cost_usd=Decimal("0.000250"),
        )
    LlmCallLogFactory(user_id=user_id, timestamp=ago(days=8))
    LlmCallLogFactory(user_id="someone-else", success=False, error_type="Boom")


# --- my-summary -----------------------------------------------------------------------------


def test_the_summary_equals_sql_over_the_same_window(client, auth, app_ctx):
    user_id, headers = auth.user()
    _seed_rows(str(user_id))
    body = _summary(client, headers)
    assert {key: body[key] for key in SUMMARY_KEYS} == _sql_summary(str(user_id), 7)
    assert body["total_calls"] == 9 and body["failed_calls"] == 4
    assert body["success_rate"] == 55.56
    assert body["error_types"] == {"APITimeoutError": 1, "Conflict": 1, "InvalidLLMOutput": 1,
                                   "RateLimitError": 1}


def test_the_summarys_keys_come_in_the_seeds_order_then_the_extras(client, auth):
    _, headers = auth.user()
    body = _summary(client, headers)
    assert list(body)[:9] == SUMMARY_KEYS
    assert list(body)[9:] == ["p50_duration_ms", "p95_duration_ms", "total_tokens",
                              "total_cost_usd", "daily"]


def test_most_used_endpoints_are_the_top_ten_most_first_in_the_json_text(client, auth, app_ctx):
    user_id, headers = auth.user()
    # Endpoint e01 has 1 call, ..., e12 has 12 calls.
    for n in range(1, 13):
        for _ in range(n):
            LlmCallLogFactory(user_id=str(user_id), endpoint_name=f"e{n:02d}")
    response = client.get("/llm-logs/my-summary", headers=headers)
    endpoints = response.get_json()["most_used_endpoints"]
    assert list(endpoints.items()) == [(f"e{n:02d}", n) for n in range(12, 2, -1)]
    text_body = response.get_data(as_text=True)
    assert text_body.index('"e12"') < text_body.index('"e11"') < text_body.index('"e03"')
    assert endpoints == _sql_summary(str(user_id), 7)["most_used_endpoints"]


def test_the_summary_with_no_calls(client, auth):
    _, headers = auth.user()
    body = _summary(client, headers, days=30)
    today = datetime.now(timezone.utc).date()
    assert {key: body[key] for key in SUMMARY_KEYS} == {
        "total_calls": 0, "successful_calls": 0, "failed_calls": 0, "success_rate": 0.0,
        "average_duration_ms": None, "most_used_endpoints": {}, "operation_types": {},
        "error_types": {}, "date_range": f"{today - timedelta(days=30)} to {today}",
    }
    assert (body["p50_duration_ms"], body["p95_duration_ms"]) == (None, None)
    assert (body["total_tokens"], body["total_cost_usd"]) == (0, 0.0)
    assert len(body["daily"]) == 31
    assert all(day["total_calls"] == 0 for day in body["daily"])


def test_the_summary_when_every_call_failed(client, auth, app_ctx):
    user_id, headers = auth.user()
    for error_type in ("RateLimitError", "RateLimitError", "APITimeoutError"):
        LlmCallLogFactory(user_id=str(user_id), success=False, error_type=error_type)
    body = _summary(client, headers)
    assert {key: body[key] for key in SUMMARY_KEYS} == _sql_summary(str(user_id), 7)
    assert (body["successful_calls"], body["failed_calls"], body["success_rate"]) == (0, 3, 0.0)
    assert list(body["error_types"].items()) == [("RateLimitError", 2), ("APITimeoutError", 1)]


def test_the_summary_when_no_call_has_a_duration(client, auth, app_ctx):
    user_id, headers = auth.user()
    LlmCallLogFactory(user_id=str(user_id), duration_ms=None)
    LlmCallLogFactory(user_id=str(user_id), duration_ms=None, success=False)
    body = _summary(client, headers)
    assert {key: body[key] for key in SUMMARY_KEYS} == _sql_summary(str(user_id), 7)
    assert body["average_duration_ms"] is None
    assert (body["p50_duration_ms"], body["p95_duration_ms"]) == (None, None)
    assert body["success_rate"] == 50.0


def test_the_average_duration_ignores_missing_durations_and_has_two_decimals(client, auth, app_ctx):
    user_id, headers = auth.user()
    for duration in (100, 101, 101, None):
        LlmCallLogFactory(user_id=str(user_id), duration_ms=duration)
    body = _summary(client, headers)
    assert body["average_duration_ms"] == 100.67
    assert body["average_duration_ms"] == _sql_summary(str(user_id), 7)["average_duration_ms"]
    assert body["p50_duration_ms"] == 101.0


def test_a_window_across_midnight_utc_counts_both_days_and_splits_them_in_daily(
    client, auth, app_ctx
):
    user_id, headers = auth.user()
    now = datetime.now(timezone.utc)
    midnight = datetime.combine(now.date(), time.min, tzinfo=timezone.utc)
    before = LlmCallLogFactory(user_id=str(user_id), timestamp=midnight - timedelta(minutes=1))
    LlmCallLogFactory(user_id=str(user_id), timestamp=midnight, success=False)
    LlmCallLogFactory(user_id=str(user_id), timestamp=now - timedelta(days=2, minutes=1))
    body = _summary(client, headers, days=2)
    assert {key: body[key] for key in SUMMARY_KEYS} == _sql_summary(str(user_id), 2)
    assert body["total_calls"] == 2
    daily = {day["date"]: (day["total_calls"], day["failed_calls"]) for day in body["daily"]}
    assert daily[before.timestamp.date().isoformat()] == (1, 0)
    assert daily[now.date().isoformat()] == (1, 1)
    assert [day["date"] for day in body["daily"]] == [
        (now.date() - timedelta(days=offset)).isoformat() for offset in (2, 1, 0)
    ]


def test_the_window_is_days_times_24_hours(client, auth, app_ctx):
    user_id, headers = auth.user()
    LlmCallLogFactory(user_id=str(user_id), timestamp=ago(hours=23, minutes=59))
    LlmCallLogFactory(user_id=str(user_id), timestamp=ago(hours=24, minutes=1))
    assert _summary(client, headers, days=1)["total_calls"] == 1
    assert _summary(client, headers, days=2)["total_calls"] == 2


def test_tokens_and_cost_add_up_the_known_values(client, auth, app_ctx):
    user_id, headers = auth.user()
    LlmCallLogFactory(user_id=str(user_id), total_tokens=100, cost_usd=Decimal("0.000150"))
    LlmCallLogFactory(user_id=str(user_id), total_tokens=50, cost_usd=Decimal("0.000075"))
    LlmCallLogFactory(user_id=str(user_id), total_tokens=None, cost_usd=None)
    body = _summary(client, headers)
    assert body["total_tokens"] == 150
    assert body["total_cost_usd"] == 0.000225


# --- analytics ------------------------------------------------------------------------------


def _stats(client, headers, name, **params):
    response = client.get(f"/llm-logs/stats/{name}", headers=headers, query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


@pytest.fixture
def traffic(app_ctx):
    """Calls of several users over two weeks, with distinct counts, averages and rates."""
    rows = [
        # user, endpoint, operation, success, duration, days ago
        *[("alice", "llm/create-workout", "workout_creation", True, 1000 + i, 1) for i in range(5)],
        ("alice", "llm/create-workout", "workout_creation", False, 30000, 2),
        *[("bob", REVISE, "workout_revision", True, 700, 3) for _ in range(3)],
        ("bob", REVISE, "workout_revision", False, None, 3),
        ("bob", REVISE, "workout_revision", False, 900, 3),
        *[("carol", PLAN, "training_principles_creation", True, 2500, 6) for _ in range(2)],
        ("carol", PLAN, "training_principles_creation", False, 2600, 6),
        ("dave", ACCEPT, "workout_revision_accept", True, 15, 0),
        ("erin", ACCEPT, None, False, 5, 0),
        ("erin", ACCEPT, None, True, 6, 0),
        # Older than a week: not in top-users' default window, in every-row analytics.
        *[("frank", PLAN, "training_principles_creation", False, 4000, 10) for _ in range(9)],
    ]
    for user, endpoint, operation, success, duration, days in rows:
        LlmCallLogFactory(user_id=user, endpoint_name=endpoint, llm_operation_type=operation,
                          success=success, duration_ms=duration, timestamp=ago(days=days, hours=1))


def test_top_users_equals_the_seeds_query(client, auth, traffic):
    _, headers = auth.admin()
    expected = [{"user_id": r.user_id, "call_count": r.call_count} for r in _sql(SEED_TOP_USERS)]
    assert _stats(client, headers, "top-users") == expected
    assert [item["user_id"] for item in expected] == ["alice", "bob", "carol", "erin", "dave"]


def test_top_users_with_days_and_limit_equals_the_seeds_query_with_them(client, auth, traffic):
    _, headers = auth.admin()
    query = SEED_TOP_USERS.replace("'7 days'", "'30 days'").replace("LIMIT 10", "LIMIT 2")
    expected = [{"user_id": r.user_id, "call_count": r.call_count} for r in _sql(query)]
    assert _stats(client, headers, "top-users", days=30, limit=2) == expected
    assert expected == [{"user_id": "frank", "call_count": 9},
                        {"user_id": "alice", "call_count": 6}]


def test_endpoint_latency_equals_the_seeds_query_over_every_row(client, auth, traffic):
    _, headers = auth.admin()
    expected = [{"endpoint_name": r.endpoint_name, "avg_duration_ms": float(r.avg_duration_ms)}
                for r in _sql(SEED_ENDPOINT_LATENCY)]
    assert _stats(client, headers, "endpoint-latency") == expected
    assert [item["endpoint_name"] for item in expected] == [
        "llm/create-workout", PLAN, REVISE, ACCEPT
    ]


def test_error_rates_equal_the_seeds_query_over_every_row(client, auth, traffic):
    _, headers = auth.admin()
    expected = [
        {"llm_operation_type": r.llm_operation_type, "total_calls": r.total_calls,
         "failed_calls": r.failed_calls, "error_rate": float(r.error_rate)}
        for r in _sql(SEED_ERROR_RATES)
    ]
    assert _stats(client, headers, "error-rates") == expected
    assert [item["llm_operation_type"] for item in expected][:2] == [
        "training_principles_creation", "workout_revision"
    ]


def test_endpoint_latency_and_error_rates_with_days_equal_the_seeds_query_in_that_window(
    client, auth, traffic
):
    _, headers = auth.admin()
    window = "timestamp >= NOW() - INTERVAL '7 days' AND "
    latency = _sql(SEED_ENDPOINT_LATENCY.replace("WHERE ", f"WHERE {window}"))
    rates = _sql(SEED_ERROR_RATES.replace("WHERE ", f"WHERE {window}"))
    assert _stats(client, headers, "endpoint-latency", days=7) == [
        {"endpoint_name": r.endpoint_name, "avg_duration_ms": float(r.avg_duration_ms)}
        for r in latency
    ]
    assert _stats(client, headers, "error-rates", days=7) == [
        {"llm_operation_type": r.llm_operation_type, "total_calls": r.total_calls,
         "failed_calls": r.failed_calls, "error_rate": float(r.error_rate)}
        for r in rates
    ]
    assert "training_principles_creation" in {r.llm_operation_type for r in rates}
    assert 9 not in {r.total_calls for r in rates}


def test_the_analytics_of_an_empty_log_are_empty_lists(client, auth):
    _, headers = auth.admin()
    for name in ("top-users", "endpoint-latency", "error-rates"):
        assert _stats(client, headers, name) == []


def test_analytics_when_every_call_failed_and_no_call_has_a_duration(client, auth, app_ctx):
    _, headers = auth.admin()
    for _ in range(3):
        LlmCallLogFactory(success=False, duration_ms=None)
    assert _stats(client, headers, "endpoint-latency") == []
    assert _stats(client, headers, "error-rates") == [
        {"llm_operation_type": "workout_creation", "total_calls": 3, "failed_calls": 3,
         "error_rate": 100.0}
    ]


def test_ties_come_back_in_a_stable_order(client, auth, app_ctx):
    _, headers = auth.admin()
    for user in ("zed", "amy", "kim"):
        LlmCallLogFactory(user_id=user, endpoint_name=f"e-{user}")
    assert [i["user_id"] for i in _stats(client, headers, "top-users")] == ["amy", "kim", "zed"]
    assert [i["endpoint_name"] for i in _stats(client, headers, "endpoint-latency")] == [
        "e-amy", "e-kim", "e-zed"
    ]
