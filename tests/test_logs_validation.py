"""Every parameter of the log routes is checked: a 400 naming the field, never a 500."""

import pytest

from tests.log_factories import LlmCallLogFactory, ago

USER_ROUTES = ["/llm-logs/my-logs", "/llm-logs/my-summary", "/llm-logs/1"]
ADMIN_ROUTES = [
    "/llm-logs/",
    "/llm-logs/stats/top-users",
    "/llm-logs/stats/endpoint-latency",
    "/llm-logs/stats/error-rates",
    "/llm-logs/stats/costliest",
    "/llm-logs/stats/slowest",
    "/llm-logs/stats/by-model",
    "/llm-logs/stats/revisions",
]
FURTHER_ANALYTICS = ADMIN_ROUTES[4:]
TOP_CALLS = ["/llm-logs/stats/costliest", "/llm-logs/stats/slowest"]


def _assert_bad_field(response, field):
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert isinstance(error["message"], str) and error["message"]
    assert field in error["details"]["fields"], error
    assert isinstance(error["details"]["fields"][field], str)


# --- authentication and permission come first ----------------------------------------------


@pytest.mark.parametrize("url", USER_ROUTES + ADMIN_ROUTES + [f"/llm-logs/{2**70}"])
def test_every_log_route_is_401_without_a_token_before_looking_at_parameters(client, url):
    response = client.get(url, query_string={"days": "nope", "limit": "-1", "cursor": "x"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("url", ADMIN_ROUTES)
def test_admin_routes_are_403_for_a_user_even_with_bad_parameters(client, auth, url):
    _, headers = auth.user()
    response = client.get(url, headers=headers, query_string={"days": "nope"})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


# --- numbers --------------------------------------------------------------------------------

BAD_INTEGERS = ["abc", "", "1.5", "1e3", " 7", "7 ", "+7", "0x10", "٣", "7_0", "true",
                "9" * 30, "9" * 5000, "-" + "9" * 30, "\x00"]


@pytest.mark.parametrize("value", ["0", "366", "-1", "1000000"] + BAD_INTEGERS)
@pytest.mark.parametrize("url", ["/llm-logs/my-logs", "/llm-logs/my-summary"])
def test_days_outside_1_to_365_or_not_an_integer_is_400_on_user_routes(client, auth, url, value):
    _, headers = auth.user()
    _assert_bad_field(client.get(url, headers=headers, query_string={"days": value}), "days")


@pytest.mark.parametrize("value", ["0", "366"] + BAD_INTEGERS[:4])
@pytest.mark.parametrize(
    "url", ["/llm-logs/stats/top-users", "/llm-logs/stats/endpoint-latency",
            "/llm-logs/stats/error-rates"] + FURTHER_ANALYTICS,
)
def test_days_outside_1_to_365_is_400_on_the_analytics(client, auth, url, value):
    _, headers = auth.admin()
    _assert_bad_field(client.get(url, headers=headers, query_string={"days": value}), "days")


@pytest.mark.parametrize("url,value", [
    ("/llm-logs/my-logs", "0"), ("/llm-logs/my-logs", "501"), ("/llm-logs/", "0"),
    ("/llm-logs/", "501"), ("/llm-logs/stats/top-users", "0"),
    ("/llm-logs/stats/top-users", "101"), ("/llm-logs/", "x"), ("/llm-logs/", "9" * 400),
    *[(url, value) for url in TOP_CALLS for value in ("0", "101", "x")],
])
def test_limit_out_of_its_range_is_400(client, auth, url, value):
    _, headers = auth.admin()
    _assert_bad_field(client.get(url, headers=headers, query_string={"limit": value}), "limit")


@pytest.mark.parametrize("url", FURTHER_ANALYTICS)
def test_a_user_id_longer_than_a_uuid_is_400_on_the_further_analytics(client, auth, url):
    _, headers = auth.admin()
    _assert_bad_field(client.get(url, headers=headers, query_string={"user_id": "u" * 37}),
                      "user_id")


@pytest.mark.parametrize("value", ["-1", "x", "1.0", str(2**63), "9" * 100])
def test_a_negative_or_huge_offset_is_400(client, auth, value):
    _, headers = auth.admin()
    _assert_bad_field(client.get("/llm-logs/", headers=headers, query_string={"offset": value}),
                      "offset")


def test_the_largest_offset_is_an_empty_page_not_an_error(client, auth):
    _, headers = auth.admin()
    response = client.get("/llm-logs/", headers=headers, query_string={"offset": "1000000000"})
    assert response.status_code == 200
    assert response.get_json()["items"] == []
    # The published maximum (deeper pages are read by cursor).
    response = client.get("/llm-logs/", headers=headers, query_string={"offset": str(2**63 - 1)})
    assert response.status_code == 400
    assert "offset" in response.get_json()["error"]["details"]["fields"]


@pytest.mark.parametrize("url,limit", [("/llm-logs/my-logs", 500), ("/llm-logs/", 500),
                                       ("/llm-logs/stats/top-users", 100),
                                       *[(url, 100) for url in TOP_CALLS]])
def test_the_bounds_themselves_are_accepted(client, auth, url, limit):
    _, headers = auth.admin()
    for params in ({"limit": 1}, {"limit": limit}, {"days": 1}, {"days": 365}):
        if url == "/llm-logs/" and "days" in params:
            continue
        assert client.get(url, headers=headers, query_string=params).status_code == 200


# --- success --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["maybe", "", "yes", "2", "tru", "\x00"])
@pytest.mark.parametrize("url", ["/llm-logs/my-logs", "/llm-logs/"])
def test_success_other_than_true_or_false_is_400(client, auth, url, value):
    _, headers = auth.admin()
    _assert_bad_field(client.get(url, headers=headers, query_string={"success": value}), "success")


# --- strings --------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["endpoint_name", "llm_operation_type", "user_id"])
@pytest.mark.parametrize("value", ["a\x00b", "", "x" * 300])
def test_filter_strings_with_nul_empty_or_too_long_are_400(client, auth, field, value):
    _, headers = auth.admin()
    url = "/llm-logs/" if field == "user_id" else "/llm-logs/my-logs"
    _assert_bad_field(client.get(url, headers=headers, query_string={field: value}), field)


@pytest.mark.parametrize("value", ["🏋️‍♀️ legs", "workouts/{workout_id}/revise", "ü" * 200,
                                   "%ED%A0%80", "\u202e\ufeff", "'; DROP TABLE llm_call_logs;--"])
@pytest.mark.parametrize("url", ["/llm-logs/my-logs", "/llm-logs/"])
def test_odd_unicode_in_filters_just_matches_nothing(client, auth, url, value):
    _, headers = auth.admin()
    response = client.get(url, headers=headers, query_string={"endpoint_name": value})
    assert response.status_code == 200
    assert response.get_json()["items"] == []


@pytest.mark.parametrize("raw", ["endpoint_name=%ED%A0%80", "endpoint_name=%FF%FE",
                                 "llm_operation_type=%C0%AF", "user_id=%00"])
def test_undecodable_bytes_in_the_query_string_are_not_a_500(client, auth, raw):
    _, headers = auth.admin()
    response = client.get(f"/llm-logs/?{raw}", headers=headers)
    assert response.status_code in (200, 400)


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["yesterday", "2025-13-01", "2025-02-30", "2025-1-1",
                                   "2025-01-01T25:00", "2025-01-01T10:00+25:00", "20250101",
                                   "2025-W01-1", "", "0000-01-01", "\x00", "2025-01-01\n",
                                   "9999-12-31T23:59:59-23:59", "0001-01-01T00:00+01:00"])
@pytest.mark.parametrize("field", ["start_date", "end_date"])
def test_dates_that_do_not_parse_are_400(client, auth, field, value):
    _, headers = auth.admin()
    _assert_bad_field(client.get("/llm-logs/", headers=headers, query_string={field: value}),
                      field)


def test_an_end_date_before_the_start_date_is_400(client, auth):
    _, headers = auth.admin()
    for start, end in [("2025-03-10", "2025-03-09"), ("2025-03-10T12:00Z", "2025-03-10T11:59Z"),
                       ("2025-03-10T12:00Z", "2025-03-09")]:
        response = client.get("/llm-logs/", headers=headers,
                              query_string={"start_date": start, "end_date": end})
        _assert_bad_field(response, "end_date")


def test_the_edges_of_the_calendar_are_accepted(client, auth):
    _, headers = auth.admin()
    response = client.get("/llm-logs/", headers=headers,
                          query_string={"start_date": "0001-01-01", "end_date": "9999-12-31"})
    assert response.status_code == 200


# --- cursors --------------------------------------------------------------------------------


@pytest.mark.parametrize("cursor", ["garbage", "x" * 600, "WzEsMl0.yPGuRfePfWWMo18qLD4Kz0_Nc-4",
                                    "%%%", "\x00", "eyJ0IjoxfQ", "🙂"])
@pytest.mark.parametrize("url", ["/llm-logs/my-logs", "/llm-logs/"])
def test_a_cursor_we_did_not_issue_is_400(client, auth, url, cursor):
    _, headers = auth.admin()
    _assert_bad_field(client.get(url, headers=headers, query_string={"cursor": cursor}), "cursor")


def test_a_cursor_used_with_other_filters_or_on_the_other_listing_is_400(client, auth, app_ctx):
    admin_id, headers = auth.admin()
    for minutes in range(3):
        LlmCallLogFactory(user_id=str(admin_id), timestamp=ago(minutes=minutes))
    mine = client.get("/llm-logs/my-logs?limit=1", headers=headers).get_json()["next_cursor"]
    every = client.get("/llm-logs/?limit=1", headers=headers).get_json()["next_cursor"]
    assert mine and every
    _assert_bad_field(client.get("/llm-logs/", headers=headers, query_string={"cursor": mine}),
                      "cursor")
    _assert_bad_field(client.get("/llm-logs/my-logs", headers=headers,
                                 query_string={"cursor": every}), "cursor")
    _assert_bad_field(client.get("/llm-logs/my-logs", headers=headers,
                                 query_string={"cursor": mine, "success": "true"}), "cursor")
    _assert_bad_field(client.get("/llm-logs/", headers=headers,
                                 query_string={"cursor": every, "user_id": "x"}), "cursor")


def test_a_cursor_of_another_user_is_400_not_a_peek(client, auth, app_ctx):
    owner_id, owner = auth.user()
    _, other = auth.user()
    for minutes in range(3):
        LlmCallLogFactory(user_id=str(owner_id), timestamp=ago(minutes=minutes))
    cursor = client.get("/llm-logs/my-logs?limit=1", headers=owner).get_json()["next_cursor"]
    _assert_bad_field(client.get("/llm-logs/my-logs", headers=other,
                                 query_string={"cursor": cursor}), "cursor")


def test_offset_and_cursor_together_are_400(client, auth, app_ctx):
    _, headers = auth.admin()
    for minutes in range(3):
        LlmCallLogFactory(timestamp=ago(minutes=minutes))
    cursor = client.get("/llm-logs/?limit=1", headers=headers).get_json()["next_cursor"]
    _assert_bad_field(client.get("/llm-logs/", headers=headers,
                                 query_string={"cursor": cursor, "offset": 1}), "offset")


def test_several_bad_fields_are_named_together(client, auth):
    _, headers = auth.admin()
    response = client.get("/llm-logs/", headers=headers,
                          query_string={"limit": 0, "offset": -1, "success": "maybe"})
    assert response.status_code == 400
    assert set(response.get_json()["error"]["details"]["fields"]) == {"limit", "offset", "success"}


def test_unknown_query_parameters_are_ignored(client, auth):
    _, headers = auth.user()
    assert client.get("/llm-logs/my-logs?colour=blue", headers=headers).status_code == 200
