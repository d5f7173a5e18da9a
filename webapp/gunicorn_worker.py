"""gunicorn's threaded worker, answering in JSON what gunicorn itself refuses (SPEC 9, 11).

gunicorn writes its own refusals (a request line or headers too long, too many headers, a bad
Content-Length, a malformed chunk) as small HTML pages from its worker's handle_error. This
worker lets gunicorn decide the status, as it always does, and writes that status as the API's
JSON error document instead.

It also bounds each read and write on a request's socket by REQUEST_BODY_TIMEOUT_S: a client
that sends half its headers or half a body and stops holds a thread only that long, then is
closed (headers) or gets a JSON 408 (body; the app sees the read fail) instead of holding it
for good.
"""

import json
import os
import socket
from http import HTTPStatus

from gunicorn import util
from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import ThreadWorker

from webapp.log_context import new_request_id

# Seconds a request's socket may stay silent while the app reads its body or writes its answer.
REQUEST_BODY_TIMEOUT_S = float(os.environ.get("REQUEST_BODY_TIMEOUT_S", "10"))

# What gunicorn's statuses mean, for people and for programs (the §9 document's code).
REFUSALS = {
    400: ("bad_request", "The request is not valid HTTP."),
    403: ("forbidden", "The request is forbidden."),
    408: ("request_timeout", "The request did not arrive in time."),
    414: ("uri_too_long", "The request line is too long."),
    417: ("expectation_failed", "The Expect header cannot be met."),
    431: ("request_header_fields_too_large",
          "The request has too many headers, or one that is too long."),
    500: ("internal_error", "An unexpected error occurred."),
    501: ("not_implemented", "The transfer coding is not supported."),
}


class _Captured:
    """A stand-in socket that keeps what gunicorn's handle_error would have sent."""

    def __init__(self):
        self.data = b""

    def gettimeout(self):
        """As a non-blocking socket would answer (so gunicorn writes straight away)."""
        return 0.0

    def setblocking(self, flag):
        """Nothing to change."""

    def sendall(self, data):
        """Keep the bytes instead of sending them."""
        self.data += data

    send = sendall


def _status_of(response_bytes):
    """The status code of a raw HTTP response, 500 if it cannot be read."""
    try:
        return int(response_bytes.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 500


def json_refusal(status):
    """The raw HTTP response of a refusal: the API's error document, then the connection closes."""
    code, message = REFUSALS.get(status, REFUSALS[500 if status >= 500 else 400])
    body = json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        # Every answer carries a request id (SPEC 14); the request was not read far enough
        # to take the client's own.
        f"X-Request-ID: {new_request_id()}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    ).encode("latin-1")
    return head + body


class _BoundedSocket(socket.socket):
    """A client socket whose blocking mode waits at most REQUEST_BODY_TIMEOUT_S per operation.

    gunicorn puts the socket in plain blocking mode before it reads a request's headers and
    body in a thread, so a client that stops half-way would hold that thread for good. A read
    that times out reads as the client having gone: gunicorn then closes the connection
    quietly (headers), or the app answers 408 (body).
    """

    def setblocking(self, flag):
        """Blocking means: with a timeout."""
        if flag:
            self.settimeout(REQUEST_BODY_TIMEOUT_S)
        else:
            super().setblocking(False)

    def recv(self, *args):
        """socket.recv, a timeout raised as gunicorn's NoMoreData (the client is gone)."""
        try:
            return super().recv(*args)
        except TimeoutError:
            raise NoMoreData(b"") from None

    def recv_into(self, *args):
        """socket.recv_into, a timeout raised as gunicorn's NoMoreData."""
        try:
            return super().recv_into(*args)
        except TimeoutError:
            raise NoMoreData(b"") from None


class JsonErrorWorker(ThreadWorker):
    """The gthread worker, with JSON refusals and a bounded wait on each request's socket."""

    def handle(self, conn):
        """Serve a connection, its socket made a _BoundedSocket the first time (in a worker
        thread, while the poller does not hold it)."""
        if not isinstance(conn.sock, _BoundedSocket) and not self.cfg.is_ssl:
            timeout = conn.sock.gettimeout()
            conn.sock = _BoundedSocket(fileno=conn.sock.detach())
            conn.sock.settimeout(timeout)
        return super().handle(conn)

    def handle_error(self, req, client, addr, exc):
        """gunicorn's own handling (status, warning, access log), answered in JSON."""
        captured = _Captured()
        super().handle_error(req, captured, addr, exc)
        try:
            util.write_nonblock(client, json_refusal(_status_of(captured.data)))
        except Exception:  # noqa: BLE001 - the client may be gone; nothing left to tell it
            self.log.debug("Failed to send error message.")
