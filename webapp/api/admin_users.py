"""Erasing a user (admins): DELETE /admin/users/<user_id> (SPEC section 13)."""

import uuid

from apiflask import APIBlueprint, Schema, fields
from marshmallow import validate

from webapp.auth import admin_required
from webapp.errors import NotFound
from webapp.services import erasure

bp = APIBlueprint("admin_users", __name__, url_prefix="/admin/users", tag="Admin")

class UserIdPath(Schema):
    """The user's id in the path, as GET /me gives it: another spelling names nothing (400)."""

    user_id = fields.String(required=True, validate=validate.Regexp(
        r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        error="Not a user id (a UUID in lower-case dashed form)."))


class ErasedOut(Schema):
    """What erasing a user removed, by kind."""

    user_id = fields.String(required=True)
    log_rows = fields.Integer(required=True, metadata={"description": "LLM call log rows."})
    jobs = fields.Integer(required=True)
    workouts = fields.Integer(required=True)
    training_plans = fields.Integer(required=True)
    revisions = fields.Integer(required=True)
    tokens = fields.Integer(required=True)


@bp.delete("/<user_id>")
@admin_required
@bp.input(UserIdPath, location="path", arg_name="path")
@bp.output(ErasedOut)
@bp.doc(responses={400: "The id is not a user id (a UUID in lower-case dashed form).",
                   404: "No such user."})
def erase_user(user_id, path):
    """Remove a user and everything of theirs: logs, jobs, workouts, plans, revisions, tokens."""
    user = erasure.find_user(uuid.UUID(path["user_id"]))
    if user is None:
        raise NotFound("The user does not exist.")
    return erasure.erase(user)
