"""Reading logs: my-logs, the admin listing, one log; scoping, filters, order and paging."""

import json
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import text

from tests.log_factories import LlmCallLogFactory, ago
from webapp.extensions import db
from webapp.models.llm_call_log import LlmCallLog

LOG_KEYS = [
    "id", "user_id", "endpoint_name", "method", "timestamp", "duration_ms", "success",
    "http_status_code", "error_message", "error_type", "request_data", "response_summary",
    "llm_operation_type", "workout_id", "training_plan_id", "user_agent", "ip_address", "job_id",
    "model", "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd", "queue_wait_ms",
    "attempt", "call_id", "request_id", "cached_tokens", "reasoning_tokens", "prompt_name",
    "prompt_version",
]


def _ids(response):
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def _walk(client, url, headers, params):
    """Every page of a listing by following next_cursor; the pages' id lists."""
    pages, cursor = [], None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = client.get(url, headers=headers, query_string=query)
        pages.append(_ids(response))
        cursor = response.get_json()["next_cursor"]
        if cursor is None:
            return pages


# --- my-logs -------------------------------------------------------------------------------


def test_my_logs_lists_only_the_callers_logs_newest_first(client, auth, app_ctx):
    user_id, headers = auth.user()
    mine = [LlmCallLogFactory(user_id=str(user_id), timestamp=ago(hours=h)) for h in (5, 1, 3)]
    LlmCallLogFactory(user_id=str(uuid.uuid4()))
    response = client.get("/llm-logs/my-logs", headers=headers)
    assert _ids(response) == [mine[1].id, mine[2].id, mine[0].id]
    assert response.get_json()["next_cursor"] is None


def test_my_logs_covers_the_last_seven_days_by_default_and_days_widens_it(client, auth, app_ctx):
    user_id, headers = auth.user()
    recent = LlmCallLogFactory(user_id=str(user_id), timestamp=ago(days=6, hours=23))
    old = LlmCallLogFactory(user_id=str(user_id), timestamp=ago(days=7, hours=1))
    assert _ids(client.get("/llm-logs/my-logs", headers=headers)) == [recent.id]
    assert _ids(client.get("/llm-logs/my-logs?days=8", headers=headers)) == [recent.id, old.id]


def test_my_logs_filters_by_endpoint_operation_type_and_success(client, auth, app_ctx):
    user_id, headers = auth.user()
    uid = str(user_id)
    create_ok = LlmCallLogFactory(user_id=uid)
    create_failed = LlmCallLogFactory(user_id=uid, success=False)
    revise = LlmCallLogFactory(
        user_id=uid, endpoint_name="workouts/{workout_id}/revise",
        llm_operation_type="workout_revision",
    )
    url = "/llm-logs/my-logs"
    by_endpoint = {"endpoint_name": "workouts/{workout_id}/revise"}
    assert _ids(client.get(url, headers=headers, query_string=by_endpoint)) == [revise.id]
    assert sorted(_ids(client.get(url, headers=headers,
                                  query_string={"llm_operation_type": "workout_creation"}))) == \
        sorted([create_ok.id, create_failed.id])
    failed = client.get(url, headers=headers, query_string={"success": "false"})
    assert _ids(failed) == [create_failed.id]
    assert sorted(_ids(client.get(url, headers=headers, query_string={"success": "true"}))) == \
        sorted([create_ok.id, revise.id])


def test_my_logs_limit_cuts_the_page_and_gives_a_cursor_to_the_rest(client, auth, app_ctx):
    user_id, headers = auth.user()
    logs = [LlmCallLogFactory(user_id=str(user_id), timestamp=ago(minutes=m)) for m in range(7)]
    newest_first = [log.id for log in logs]
    pages = _walk(client, "/llm-logs/my-logs", headers, {"limit": 3})
    assert pages == [newest_first[0:3], newest_first[3:6], newest_first[6:7]]


def test_keyset_pages_keep_rows_with_the_same_timestamp_in_id_order_without_gaps(
    client, auth, app_ctx
):
    user_id, headers = auth.user()
    same = ago(minutes=5)
    logs = [LlmCallLogFactory(user_id=str(user_id), timestamp=same) for _ in range(5)]
    pages = _walk(client, "/llm-logs/my-logs", headers, {"limit": 2})
    assert [i for page in pages for i in page] == sorted((log.id for log in logs), reverse=True)


def test_rows_written_while_paging_do_not_shift_the_next_pages(client, auth, app_ctx):
    user_id, headers = auth.user()
    logs = [LlmCallLogFactory(user_id=str(user_id), timestamp=ago(minutes=m)) for m in range(1, 5)]
    first = client.get("/llm-logs/my-logs", headers=headers, query_string={"limit": 2}).get_json()
    LlmCallLogFactory(user_id=str(user_id), timestamp=ago(seconds=1))
    second = client.get("/llm-logs/my-logs", headers=headers,
                        query_string={"limit": 2, "cursor": first["next_cursor"]})
    assert _ids(second) == [logs[2].id, logs[3].id]


# --- the log object ------------------------------------------------------------------------


def test_a_log_in_json_has_every_column_by_name_with_utc_time_and_a_numeric_cost(
    client, auth, app_ctx
):
    user_id, headers = auth.user()
    job_id = uuid.uuid4()
    log = LlmCallLogFactory(
        user_id=str(user_id),
        timestamp=datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2))),
        workout_id=7, job_id=job_id, model="gpt-4o-mini", prompt_tokens=10,
        completion_tokens=5, total_tokens=15, cost_usd=Decimal("0.000123"), queue_wait_ms=40,
        attempt=1, user_agent="curl/8", ip_address="203.0.113.9",
    )
    body = client.get(f"/llm-logs/{log.id}", headers=headers).get_json()
    assert list(body) == LOG_KEYS
    assert set(LOG_KEYS) == set(LlmCallLog.__table__.columns.keys())
    assert body["timestamp"] == "2030-01-02T01:04:05.678901+00:00"
    assert body["cost_usd"] == 0.000123
    assert body["job_id"] == str(job_id)
    assert body["request_data"] == {"prompt": "legs"}
    assert body["user_id"] == str(user_id)
    assert (body["workout_id"], body["total_tokens"], body["attempt"]) == (7, 15, 1)


@pytest.mark.parametrize("stored", ["[1, 2]", '"a note"', "42", "true"])
def test_a_row_loaded_from_outside_with_request_data_no_object_is_answered_as_stored(
        client, auth, app_ctx, stored):
    user_id, headers = auth.user()
    db.session.execute(text(
        "INSERT INTO llm_call_logs (user_id, endpoint_name, method, timestamp, success, "
        "request_data) VALUES (:user_id, 'llm/create-workout', 'POST', now(), true, "
        "CAST(:stored AS jsonb))"), {"user_id": str(user_id), "stored": stored})
    db.session.commit()
    [item] = client.get("/llm-logs/my-logs", headers=headers).get_json()["items"]
    assert item["request_data"] == json.loads(stored)
    response = client.get(f"/llm-logs/{item['id']}", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == item
    export = client.get("/llm-logs/my-logs/export?format=jsonl", headers=headers)
    assert [json.loads(line) for line in export.get_data(as_text=True).splitlines()] == [item]


def test_listings_answer_the_same_log_objects(client, auth, app_ctx):
    user_id, headers = auth.user()
    log = LlmCallLogFactory(user_id=str(user_id))
    single = client.get(f"/llm-logs/{log.id}", headers=headers).get_json()
    [listed] = client.get("/llm-logs/my-logs", headers=headers).get_json()["items"]
    assert listed == single


def test_a_log_is_visible_to_its_owner_and_to_admins_and_404_to_anyone_else(client, auth, app_ctx):
    owner_id, owner = auth.user()
    _, stranger = auth.user()
    _, admin = auth.admin()
    log = LlmCallLogFactory(user_id=str(owner_id))
    assert client.get(f"/llm-logs/{log.id}", headers=owner).status_code == 200
    assert client.get(f"/llm-logs/{log.id}", headers=admin).status_code == 200
    response = client.get(f"/llm-logs/{log.id}", headers=stranger)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("log_id", ["0", "999999", str(2**31), str(2**63 - 1), str(2**63),
                                    "9" * 40])
def test_an_id_that_names_no_log_is_404_even_beyond_the_integer_range(client, auth, log_id):
    _, headers = auth.admin()
    response = client.get(f"/llm-logs/{log_id}", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


# --- the admin listing ---------------------------------------------------------------------


def test_the_admin_listing_shows_every_users_logs_with_total_limit_and_offset(
    client, auth, app_ctx
):
    _, admin = auth.admin()
    logs = [LlmCallLogFactory(user_id=f"user-{i % 3}", timestamp=ago(minutes=i)) for i in range(5)]
    body = client.get("/llm-logs/", headers=admin).get_json()
    assert [item["id"] for item in body["items"]] == [log.id for log in logs]
    assert (body["total"], body["limit"], body["offset"], body["next_cursor"]) == (5, 50, 0, None)
    assert list(body) == ["items", "total", "limit", "offset", "next_cursor"]


def test_the_admin_listing_answers_without_the_trailing_slash_too(client, auth, app_ctx):
    _, admin = auth.admin()
    log = LlmCallLogFactory()
    assert _ids(client.get("/llm-logs", headers=admin)) == [log.id]
    assert client.get("/llm-logs").status_code == 401


def test_the_admin_listing_has_no_time_window_by_default(client, auth, app_ctx):
    _, admin = auth.admin()
    ancient = LlmCallLogFactory(timestamp=datetime(2001, 1, 1, tzinfo=timezone.utc))
    assert _ids(client.get("/llm-logs/", headers=admin)) == [ancient.id]


def test_the_admin_listing_pages_by_offset(client, auth, app_ctx):
    _, admin = auth.admin()
    ids = [LlmCallLogFactory(timestamp=ago(minutes=i)).id for i in range(5)]
    body = client.get("/llm-logs/?limit=2&offset=2", headers=admin).get_json()
    assert [item["id"] for item in body["items"]] == ids[2:4]
    assert (body["total"], body["limit"], body["offset"]) == (5, 2, 2)
    beyond = client.get("/llm-logs/?offset=10", headers=admin).get_json()
    assert (beyond["items"], beyond["total"], beyond["next_cursor"]) == ([], 5, None)


def test_the_admin_listing_pages_by_cursor_with_a_running_offset(client, auth, app_ctx):
    _, admin = auth.admin()
    ids = [LlmCallLogFactory(timestamp=ago(minutes=i)).id for i in range(5)]
    first = client.get("/llm-logs/?limit=2", headers=admin).get_json()
    second = client.get("/llm-logs/", headers=admin,
                        query_string={"limit": 2, "cursor": first["next_cursor"]}).get_json()
    third = client.get("/llm-logs/", headers=admin,
                       query_string={"limit": 2, "cursor": second["next_cursor"]}).get_json()
    assert [[item["id"] for item in page["items"]] for page in (first, second, third)] == [
        ids[0:2], ids[2:4], ids[4:5]
    ]
    assert [(page["total"], page["offset"]) for page in (first, second, third)] == [
        (5, 0), (5, 2), (5, 4)
    ]
    assert third["next_cursor"] is None


def test_a_cursor_pages_total_counts_the_rows_the_table_holds_now(client, auth, app_ctx):
    # SPEC 8: the admin listing's total equals plain SQL over the rows at that moment.
    _, admin = auth.admin()
    logs = [LlmCallLogFactory(timestamp=ago(minutes=i)) for i in range(5)]
    first = client.get("/llm-logs/?limit=2", headers=admin).get_json()
    # From outside, between the two pages: two rows more, one less.
    LlmCallLogFactory(timestamp=ago(minutes=1))
    LlmCallLogFactory(timestamp=ago(days=40))
    db.session.execute(text("DELETE FROM llm_call_logs WHERE id = :id"), {"id": logs[4].id})
    db.session.commit()
    second = client.get("/llm-logs/", headers=admin,
                        query_string={"limit": 2, "cursor": first["next_cursor"]}).get_json()
    counted = db.session.scalar(text("SELECT count(*) FROM llm_call_logs"))
    assert (first["total"], second["total"], counted) == (5, 6, 6)


def test_an_offset_page_also_gives_a_cursor_to_continue_from(client, auth, app_ctx):
    _, admin = auth.admin()
    ids = [LlmCallLogFactory(timestamp=ago(minutes=i)).id for i in range(5)]
    page = client.get("/llm-logs/?limit=2&offset=1", headers=admin).get_json()
    following = client.get("/llm-logs/", headers=admin,
                           query_string={"limit": 2, "cursor": page["next_cursor"]}).get_json()
    assert [item["id"] for item in following["items"]] == ids[3:5]
    assert following["offset"] == 3


def test_the_admin_listing_filters_by_user_endpoint_operation_and_success(client, auth, app_ctx):
    _, admin = auth.admin()
    a = LlmCallLogFactory(user_id="alice")
    b_failed = LlmCallLogFactory(user_id="bob", success=False)
    b_revise = LlmCallLogFactory(user_id="bob", endpoint_name="workouts/{workout_id}/revise",
                                 llm_operation_type="workout_revision")

    def listed(**params):
        body = client.get("/llm-logs/", headers=admin, query_string=params).get_json()
        assert body["total"] == len(body["items"])
        return sorted(item["id"] for item in body["items"])

    assert listed(user_id="alice") == [a.id]
    assert listed(user_id="bob", success="false") == [b_failed.id]
    assert listed(endpoint_name="workouts/{workout_id}/revise") == [b_revise.id]
    assert listed(llm_operation_type="workout_creation") == sorted([a.id, b_failed.id])
    assert listed(success="true") == sorted([a.id, b_revise.id])
    assert listed(user_id="nobody") == []


def test_a_date_only_end_date_includes_that_whole_day(client, auth, app_ctx):
    _, admin = auth.admin()
    utc = timezone.utc
    before = LlmCallLogFactory(timestamp=datetime(2025, 3, 9, 23, 59, 59, 999999, tzinfo=utc))
    first = LlmCallLogFactory(timestamp=datetime(2025, 3, 10, 0, 0, tzinfo=utc))
    last = LlmCallLogFactory(timestamp=datetime(2025, 3, 10, 23, 59, 59, 999999, tzinfo=utc))
    after = LlmCallLogFactory(timestamp=datetime(2025, 3, 11, 0, 0, tzinfo=utc))

    def listed(**params):
        return sorted(_ids(client.get("/llm-logs/", headers=admin, query_string=params)))

    assert listed(start_date="2025-03-10", end_date="2025-03-10") == sorted([first.id, last.id])
    assert listed(end_date="2025-03-10") == sorted([before.id, first.id, last.id])
    assert listed(start_date="2025-03-10") == sorted([first.id, last.id, after.id])


def test_date_times_bound_the_admin_listing_inclusively_and_honour_offsets(client, auth, app_ctx):
    _, admin = auth.admin()
    utc = timezone.utc
    early = LlmCallLogFactory(timestamp=datetime(2025, 3, 10, 10, 0, tzinfo=utc))
    late = LlmCallLogFactory(timestamp=datetime(2025, 3, 10, 12, 0, tzinfo=utc))

    def listed(**params):
        return sorted(_ids(client.get("/llm-logs/", headers=admin, query_string=params)))

    assert listed(start_date="2025-03-10T10:00:00Z", end_date="2025-03-10T12:00:00Z") == \
        sorted([early.id, late.id])
    assert listed(start_date="2025-03-10T10:00:00.000001Z") == [late.id]
    assert listed(end_date="2025-03-10T11:59:59") == [early.id]
    # 13:00 at +02:00 is 11:00 UTC.
    assert listed(end_date="2025-03-10T13:00:00+02:00") == [early.id]
    assert listed(start_date="2025-03-10 13:00+02:00") == [late.id]


def test_an_offset_whose_plus_arrived_as_a_space_is_read_as_plus(client, auth, app_ctx):
    _, admin = auth.admin()
    late = LlmCallLogFactory(timestamp=datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc))
    # An f-string URL with isoformat(): the "+" of "+02:00" reaches the server as a space.
    response = client.get("/llm-logs/?start_date=2025-03-10T13:00:00+02:00", headers=admin)
    assert response.status_code == 200
    assert _ids(response) == [late.id]
