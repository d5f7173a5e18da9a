"""Exports of the call log: streamed CSV and JSON lines, the listing's filters, the CLI."""

import csv
import io
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests.log_factories import LlmCallLogFactory, ago

COLUMNS = ["id", "user_id", "endpoint_name", "method", "timestamp", "duration_ms", "success",
           "http_status_code", "error_message", "error_type", "request_data", "response_summary",
           "llm_operation_type", "workout_id", "training_plan_id", "user_agent", "ip_address",
           "job_id", "model", "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd",
           "queue_wait_ms", "attempt", "call_id", "request_id", "cached_tokens",
           "reasoning_tokens", "prompt_name", "prompt_version"]


@pytest.fixture
def rows(app, auth):
    """An admin, a user with three calls (one failed, one 10 days old), another user's call."""
    admin_id, admin = auth.admin()
    user_id, user = auth.user()
    with app.app_context():
        LlmCallLogFactory(user_id=str(user_id), timestamp=ago(minutes=5), cost_usd=0.0012,
                          job_id=uuid.uuid4(), request_data={"prompt": "a, \"quoted\"\nline"})
        LlmCallLogFactory(user_id=str(user_id), timestamp=ago(minutes=3), success=False)
        LlmCallLogFactory(user_id=str(user_id), timestamp=ago(days=10))
        LlmCallLogFactory(user_id="someone-else", timestamp=ago(minutes=1))
    return {"admin": admin, "user": user, "user_id": str(user_id)}


def test_the_admin_jsonl_export_is_every_log_newest_first_as_the_log_route_gives_it(
        client, rows):
    response = client.get("/llm-logs/export?format=jsonl", headers=rows["admin"])
    assert response.status_code == 200
    assert response.is_streamed and "Content-Length" not in response.headers
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Content-Disposition"].endswith('.jsonl"')
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert len(lines) == 4
    assert [line["timestamp"] for line in lines] == sorted(
        (line["timestamp"] for line in lines), reverse=True)
    for line in lines:
        assert line == client.get(f"/llm-logs/{line['id']}", headers=rows["admin"]).get_json()


def test_the_admin_export_takes_the_listing_filters(client, rows):
    response = client.get(f"/llm-logs/export?format=jsonl&user_id={rows['user_id']}"
                          "&success=true", headers=rows["admin"])
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert len(lines) == 2
    assert {line["user_id"] for line in lines} == {rows["user_id"]}
    assert all(line["success"] for line in lines)


def test_the_csv_export_has_a_header_of_every_column_and_one_row_per_log(client, rows):
    response = client.get("/llm-logs/export?format=csv", headers=rows["admin"])
    assert response.status_code == 200
    assert response.content_type.startswith("text/csv")
    assert response.headers["Content-Disposition"].endswith('.csv"')
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert table[0] == COLUMNS
    assert len(table) == 5
    by_user = [dict(zip(COLUMNS, line)) for line in table[1:]]
    quoted = next(row for row in by_user if row["cost_usd"])
    assert json.loads(quoted["request_data"]) == {"prompt": "a, \"quoted\"\nline"}
    assert quoted["success"] == "true" and float(quoted["cost_usd"]) == 0.0012


def test_my_export_is_the_callers_own_logs_of_the_window(client, rows):
    response = client.get("/llm-logs/my-logs/export?format=jsonl", headers=rows["user"])
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert len(lines) == 2 and {line["user_id"] for line in lines} == {rows["user_id"]}
    longer = client.get("/llm-logs/my-logs/export?format=csv&days=30", headers=rows["user"])
    assert len(longer.get_data(as_text=True).splitlines()) == 1 + 3


@pytest.mark.parametrize("path", ["/llm-logs/export", "/llm-logs/my-logs/export"])
def test_another_format_is_a_400_naming_it(client, rows, path):
    response = client.get(f"{path}?format=xml", headers=rows["admin"])
    assert response.status_code == 400
    assert "xml" in response.get_json()["error"]["details"]["fields"]["format"]


def test_the_admin_export_is_for_admins(client, rows):
    assert client.get("/llm-logs/export?format=csv").status_code == 401
    assert client.get("/llm-logs/export?format=csv", headers=rows["user"]).status_code == 403


def test_flask_logs_export_writes_the_file_the_route_serves(client, runner, rows, tmp_path):
    target = tmp_path / "all.jsonl"
    result = runner.invoke(args=["logs", "export", "--format", "jsonl", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == f"Exported 4 rows to {target}."
    served = client.get("/llm-logs/export?format=jsonl", headers=rows["admin"])
    assert target.read_text() == served.get_data(as_text=True)


def test_flask_logs_export_takes_the_filters(runner, rows, tmp_path):
    target = tmp_path / "one.csv"
    result = runner.invoke(args=["logs", "export", "--format", "csv", "-o", str(target),
                                 "--user-id", rows["user_id"], "--success", "false"])
    assert result.exit_code == 0, result.output
    assert len(target.read_text().splitlines()) == 2


@pytest.mark.parametrize("bounds", [
    lambda today: {"end_date": today.isoformat()},
    lambda today: {"start_date": (today - timedelta(days=1)).isoformat() + "T00:00:00+02:00",
                   "end_date": today.isoformat()},
])
def test_flask_logs_export_reads_the_dates_as_the_route_does(client, runner, rows, tmp_path,
                                                              bounds):
    # A date-only end_date includes that whole day; offsets are honoured.
    query = bounds(datetime.now(timezone.utc).date())
    target = tmp_path / "dated.jsonl"
    options = [part for name, value in query.items()
               for part in (f"--{name.replace('_', '-')}", value)]
    result = runner.invoke(args=["logs", "export", "-o", str(target), *options])
    assert result.exit_code == 0, result.output
    served = client.get("/llm-logs/export", query_string=query, headers=rows["admin"])
    assert served.status_code == 200
    assert served.get_data(as_text=True).count("\n") >= 3
    assert target.read_text() == served.get_data(as_text=True)


def test_flask_logs_export_refuses_a_date_the_route_refuses(runner, rows, tmp_path):
    result = runner.invoke(args=["logs", "export", "-o", str(tmp_path / "x.jsonl"),
                                 "--end-date", "2026-02-30"])
    assert result.exit_code != 0
    assert "end-date" in result.output


def test_an_export_streams_in_constant_memory(app, client, auth):
    """10,000 rows (some 9 MB of JSON lines) go out while the memory held stays that of a
    batch or two: it does not grow with the rows sent."""
    import gc
    import tracemalloc

    from webapp.services import log_seed

    _, admin = auth.admin()
    with app.app_context():
        log_seed.seed(10_000, 50, 30, app.config["LLM_PRICES"], seed=7)
    # Only what the export's own frames allocated counts: other threads of the test process
    # (an idle worker, a previous test's servers) allocate meanwhile too.
    export_frames = [tracemalloc.Filter(True, "*/webapp/*export*.py", all_frames=True)]

    def held():
        gc.collect()
        snapshot = tracemalloc.take_snapshot().filter_traces(export_frames)
        return sum(stat.size for stat in snapshot.statistics("filename"))

    # Deep enough to reach the export's frames from the allocations under them (marshmallow,
    # json, psycopg); each frame traced costs every allocation of the test some time.
    tracemalloc.start(24)
    try:
        response = client.get("/llm-logs/export?format=jsonl", headers=admin)
        chunks = iter(response.response)
        sent = lines = 0
        for chunk in chunks:
            sent += len(chunk)
            lines += chunk.count(b"\n")
            if lines >= 2000:
                break
        with app.app_context():
            # The rows come from a server-side cursor, a batch per FETCH.
            from sqlalchemy import text

            from webapp.extensions import db
            fetching = db.session.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE 'FETCH FORWARD%'"))
            db.session.remove()
        assert fetching == 1
        baseline = held()
        most = baseline
        next_look = lines + 1000
        for chunk in chunks:
            sent += len(chunk)
            lines += chunk.count(b"\n")
            if lines >= next_look:
                most = max(most, held())
                next_look += 1000
        growth = most - baseline
    finally:
        tracemalloc.stop()
    assert lines == 10_000 and sent > 5_000_000
    # The last 8,000 rows are some 7 MB of text; reading them held at most a few batches.
    assert growth < 3_000_000, f"{growth} bytes more for {sent} bytes sent"
