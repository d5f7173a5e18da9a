"""Liveness and readiness (SPEC 11): public, and quick whatever is down."""

from apiflask import APIBlueprint, Schema
from apiflask.fields import Dict, String
from flask import current_app

from webapp.services import readiness

bp = APIBlueprint("health", __name__, tag="Health")


class HealthOut(Schema):
    """The answer of GET /healthz."""

    status = String(required=True, metadata={"enum": ["ok"]})


class ReadyOut(Schema):
    """The answer of GET /readyz: `ready`, or `unavailable` with the part that is down."""

    status = String(required=True, metadata={"enum": ["ready", "unavailable"]})
    checks = Dict(
        keys=String(), values=String(metadata={"enum": ["ok", "down"]}), required=True,
        metadata={"description": "`ok` or `down` for `postgresql` and `redis`, and for `broker` when "
                                "CELERY_BROKER_URL names one that is not Redis."},
    )


@bp.get("/healthz")
@bp.output(HealthOut)
def healthz():
    """The process serves requests (touches neither PostgreSQL nor Redis; no token)."""
    return {"status": "ok"}


@bp.get("/readyz")
@bp.output(ReadyOut)
@bp.doc(responses={503: {"description":
                         "PostgreSQL, Redis or the broker is down; the checks say which.",
                         "content": {"application/json": {"schema": ReadyOut}}}})
def readyz():
    """PostgreSQL and Redis answer (no token; answers within 3 s whatever is down)."""
    checks = readiness.check(current_app._get_current_object())
    if all(state == "ok" for state in checks.values()):
        return {"status": "ready", "checks": checks}
    return {"status": "unavailable", "checks": checks}, 503, {"Retry-After": "5"}
