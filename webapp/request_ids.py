"""X-Request-ID on every response, errors included (SPEC section 14)."""

from flask import g, request

from webapp.log_context import new_request_id, valid_request_id

HEADER = "X-Request-ID"


def _assign():
    """Take the client's request id when it is valid, else make one."""
    sent = request.headers.get(HEADER, "")
    g.request_id = sent if valid_request_id(sent) else new_request_id()


def _stamp(response):
    """Put the request's id on its response."""
    if "request_id" not in g:
        _assign()
    response.headers[HEADER] = g.request_id
    return response


def register(app):
    """Give each request an id first thing and send it back on every response."""
    app.before_request(_assign)
    app.after_request(_stamp)
