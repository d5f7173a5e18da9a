"""Alert rules and their events (admins)."""

from apiflask import APIBlueprint

from webapp.api.alert_schemas import (
    AlertEventsOut, AlertEventsQuery, AlertRuleIn, AlertRuleOut, AlertRulesOut,
)
from webapp.api.validation import json_body
from webapp.auth import admin_required
from webapp.errors import NotFound
from webapp.services import alerts

bp = APIBlueprint("alerts", __name__, url_prefix="/admin/alerts", tag="Alerts")


@bp.post("", strict_slashes=False)
@admin_required
@json_body(bp, AlertRuleIn)
@bp.output(AlertRuleOut, status_code=201)
def create_rule(body):
    """Add an alert rule; it starts `ok` and the workers evaluate it every interval."""
    return alerts.create_rule(**body).to_dict()


@bp.get("", strict_slashes=False)
@admin_required
@bp.output(AlertRulesOut)
def list_rules():
    """Every alert rule with its state and last value."""
    return {"items": [rule.to_dict() for rule in alerts.list_rules()]}


@bp.delete('/<int(exclude="events"):rule_id>')
@admin_required
@bp.output({}, status_code=204)
def delete_rule(rule_id):
    """Delete a rule; its events stay."""
    if rule_id is None or not alerts.delete_rule(rule_id):
        raise NotFound("The alert rule does not exist.")
    return ""


@bp.get("/events")
@admin_required
@bp.input(AlertEventsQuery, location="query", arg_name="query")
@bp.output(AlertEventsOut)
def list_events(query):
    """The rules' changes of state, newest first."""
    return {"items": [event.to_dict() for event in alerts.list_events(query["limit"])]}
