"""The web tier as deployed: gunicorn with the repository's gunicorn.conf.py (SPEC 9, 11)."""

import http.client
import json
import re
import socket
import time
import urllib.parse

import pytest

from tests.web_server import raw_request, running_gunicorn, split_response

BODY_TIMEOUT_S = 3


@pytest.fixture(scope="module")
def server(database, services, redis_prefix, fake_llm):
    """gunicorn serving the app on the test database; yields its port."""
    env = {
        "DATABASE_URL": database, "REDIS_URL": services["REDIS_URL"],
        "REDIS_KEY_PREFIX": redis_prefix, "SECRET_KEY": "test-secret-key",
        "OPENAI_BASE_URL": fake_llm.url, "OPENAI_API_KEY": "test-key",
        "REQUEST_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S), "WEB_ACCESS_LOG": "",
    }
    with running_gunicorn(env, "--workers", "2", "--threads", "16") as served:
        yield served.port


def _get(port, path, headers=None, timeout=10):
    """(status, content type, body: parsed when JSON, else text; seconds) of a GET."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        content_type = response.getheader("Content-Type")
        if content_type == "application/json":
            body = json.loads(body)
        else:
            body = body.decode()
        return (response.status, content_type, body, time.monotonic() - started)
    finally:
        conn.close()


def _assert_json_error(raw, status):
    got, headers, body = split_response(raw)
    assert got == status, raw[:300]
    assert headers["content-type"] == "application/json"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])
    error = json.loads(body)["error"]
    assert error["code"] and error["message"] and error["details"] == {}


def test_gunicorn_serves_healthz(server):
    status, content_type, body, _ = _get(server, "/healthz")
    assert (status, content_type, body) == (200, "application/json", {"status": "ok"})


def test_slow_clients_hold_up_nobody_and_get_a_json_408(server, app, auth):
    _, headers = auth.user()
    body = json.dumps({"prompt": "legs " * 40}).encode()
    slow = []
    for _ in range(8):
        sock = socket.create_connection(("127.0.0.1", server), timeout=BODY_TIMEOUT_S + 10)
        sock.sendall(
            b"POST /llm/create-workout HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: {headers['Authorization']}\r\n".encode()
            + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[: len(body) // 2]
        )
        slow.append(sock)
    time.sleep(0.5)  # the slow requests are in the app, reading their bodies
    answers = []
    for _ in range(5):
        answers.append(_get(server, "/healthz"))
        answers.append(_get(server, "/me", headers))
    for status, content_type, _, seconds in answers:
        assert status == 200 and content_type == "application/json"
        assert seconds < 2
    longest = max(seconds for *_, seconds in answers)
    statuses = []
    for sock in slow:
        with sock:
            raw = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                raw += chunk
        if raw:
            status, response_headers, response_body = split_response(raw)
            assert response_headers["content-type"] == "application/json", raw[:200]
            assert json.loads(response_body)["error"]["code"]
            statuses.append(status)
        else:
            statuses.append("closed")
    print(f"\nslow clients: 8, their answers {statuses}; meanwhile {len(answers)} GETs, "
          f"longest {longest:.3f} s")
    assert all(status in (400, 408, "closed") for status in statuses)


def test_a_client_that_stops_half_way_through_its_headers_is_closed_in_time(server):
    started = time.monotonic()
    socks = []
    for _ in range(4):
        sock = socket.create_connection(("127.0.0.1", server), timeout=BODY_TIMEOUT_S + 10)
        sock.sendall(b"GET /me HTTP/1.1\r\nHost: x\r\nAuthor")
        socks.append(sock)
    assert _get(server, "/healthz")[3] < 2
    for sock in socks:
        with sock:
            assert sock.recv(65536) == b""  # closed by the server, not by our timeout
    assert time.monotonic() - started < BODY_TIMEOUT_S + 5


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GET /healthz?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET /me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"t" * 10_000 + b"\r\n\r\n",
     431),
    (b"GET /me HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(101))
     + b"\r\n", 431),
    (b"POST /llm/create-workout HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}", 400),
    (b"GET /me HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    (b"GARBAGE\r\n\r\n", 400),
])
def test_what_gunicorn_refuses_is_answered_in_json(server, request_bytes, status):
    _assert_json_error(raw_request(server, request_bytes), status)


def test_a_doubled_slash_is_the_same_route_through_gunicorn(server):
    status, headers, body = split_response(
        raw_request(server, b"GET /workouts//1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    assert status == 401 and headers["content-type"] == "application/json"


def _longest_value(schema):
    """The longest value a parameter's schema allows, in 4-byte characters where it can."""
    if schema.get("type") == "integer":
        return str(schema.get("maximum", 1))
    if schema.get("type") == "boolean":
        return "false"
    if "enum" in schema:
        return max(schema["enum"], key=len)
    pattern = schema.get("pattern", "")
    if "[0-9]{4}" in pattern or "[1-9][0-9]{3}" in pattern:
        return "2026-02-28T23:59:59.999999+02:00"
    length = schema.get("maxLength", 64)
    if pattern.startswith("^\\.?[A-Za-z0-9_-]"):  # the cursor
        return "." + "a" * ((length - 2) // 2) + "." + "b" * (length - 2 - (length - 2) // 2)
    widest = "\U0001d11e" * length  # four bytes in UTF-8, twelve percent-encoded
    if pattern and not re.search(pattern, widest):
        return "a" * length
    return widest


def test_every_query_the_document_allows_fits_through_the_server(server, client, auth):
    _, headers = auth.admin()
    spec = client.get("/openapi.json").get_json()
    longest = 0
    for path, operations in spec["paths"].items():
        if "get" not in operations or "{" in path:
            continue
        query = {p["name"]: _longest_value(p["schema"])
                 for p in operations["get"].get("parameters", []) if p["in"] == "query"}
        if not query:
            continue
        target = path + "?" + urllib.parse.urlencode(query)
        longest = max(longest, len(target))
        status, content_type, body, _ = _get(server, target, headers)
        assert status in (200, 400), (path, status)  # a forged cursor is a 400, not a 414
        # JSON, or the export's CSV / JSON lines (its longest query asks for csv or jsonl).
        assert content_type == "application/json" or (
            status == 200 and path.endswith("/export")
            and content_type.split(";")[0] in ("text/csv", "application/x-ndjson")
        ), (path, content_type)
    print(f"\nlongest allowed request target: {longest} bytes")


def test_gunicorns_log_lines_carry_the_request_id(database, services, redis_prefix):
    """Under gunicorn.conf.py's logging, the app's lines about a request and its access line
    are JSON objects naming the request's id."""
    env = {
        "DATABASE_URL": database, "REDIS_URL": services["REDIS_URL"],
        "REDIS_KEY_PREFIX": redis_prefix, "SECRET_KEY": "test-secret-key",
    }
    with running_gunicorn(env, "--workers", "1", "--threads", "4") as served:
        # A sign-out without its CSRF token: refused, and Flask-WTF logs why.
        raw = raw_request(served.port, b"POST /dashboard/sign-out HTTP/1.1\r\nHost: x\r\n"
                          b"X-Request-ID: trace-gunicorn-1\r\nContent-Length: 0\r\n"
                          b"Connection: close\r\n\r\n")
        assert split_response(raw)[0] == 400
        deadline = time.monotonic() + 5
        while '"gunicorn.access"' not in served.log_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        lines = [json.loads(line) for line in served.log_text().splitlines()]
    about_it = {line["logger"] for line in lines if line.get("request_id") == "trace-gunicorn-1"}
    assert {"flask_wtf.csrf", "gunicorn.access"} <= about_it, lines
