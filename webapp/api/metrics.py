"""GET /metrics: the Prometheus page of every process (SPEC section 14)."""

import hmac

from apiflask import APIBlueprint
from flask import Response, current_app, request

from webapp import metrics
from webapp.errors import ApiError
from webapp.services import log_spool

bp = APIBlueprint("metrics", __name__, tag="Operations")


def _authorized():
    """No token needed unless METRICS_TOKEN is set; then the bearer token must be it."""
    expected = current_app.config.get("METRICS_TOKEN")
    if not expected:
        return True
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), expected.encode())


@bp.get("/metrics")
@bp.doc(responses={200: {"description": "Prometheus text format.",
                         "content": {"text/plain": {"schema": {"type": "string"}}}},
                   401: "METRICS_TOKEN is set and the bearer token is not it."})
def scrape():
    """Prometheus text format, summed over every web and worker process."""
    if not _authorized():
        raise ApiError(401, "A valid metrics token is required.",
                       headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    body, content_type = metrics.render(log_spool.depth())
    return Response(body, content_type=content_type)
