"""Who am I: the caller's own account."""

from apiflask import APIBlueprint, Schema
from apiflask.fields import String, UUID

from webapp.auth import current_user, login_required

bp = APIBlueprint("account", __name__, tag="Account")


class MeOut(Schema):
    """The answer of GET /me: the caller's id, email and role."""

    id = UUID(required=True)
    email = String(required=True)
    role = String(required=True)


@bp.get("/me")
@login_required
@bp.output(MeOut)
def me():
    """The authenticated caller's id, email and role."""
    user = current_user()
    return {"id": user.id, "email": user.email, "role": user.role}
