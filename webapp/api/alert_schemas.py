"""Bodies and answers of the alert routes; they also make their OpenAPI description."""

from apiflask import Schema, fields
from marshmallow import ValidationError, validate

from webapp.api.fields import QueryInteger, UtcDateTime, integer, text
from webapp.models.alert import METRICS

OPERATION_TYPES = (
    "workout_creation", "training_principles_creation", "workout_revision",
    "workout_revision_accept",
)

# http(s), a host name, IPv4 or [IPv6] address, an optional port (0-65535), then any path and
# query without spaces or control characters.
_PORT = r"([0-9]{1,4}|[0-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
WEBHOOK_URL = (rf"^https?://([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(:{_PORT})?"
               r"([/?#][^\s\x00-\x1f\x7f]*)?$")


def _encodable(url):
    # A lone surrogate (valid in JSON text, "\ud800") cannot be stored or sent.
    try:
        url.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError("Must be valid Unicode text.") from exc


class JsonNumber(fields.Float):
    """A JSON number: 3 and 2.5 pass; "3", true, NaN and infinities do not."""

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        return super()._validated(value)


class AlertRuleIn(Schema):
    """The body of POST /admin/alerts."""

    name = text(max_length=200, required=True)
    metric = fields.String(required=True, validate=validate.OneOf(METRICS), metadata={
        "description": "error_rate (percent), p95_duration_ms, cost_usd (the window's total) "
                       "or calls."})
    operation = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(OPERATION_TYPES),
        metadata={"description": "Only calls of this llm_operation_type; every call when absent."},
    )
    window_minutes = integer(1, 1440, required=True)
    threshold = JsonNumber(
        required=True, allow_nan=False,
        validate=validate.Range(min=-1e15, max=1e15),
        metadata={"description": "The rule fires while its value is above this."},
    )
    webhook_url = fields.String(
        load_default=None, allow_none=True,
        validate=[validate.Length(max=2000),
                  validate.Regexp(WEBHOOK_URL, error="Not an http:// or https:// URL."),
                  _encodable],
        metadata={"description": "Each event of the rule is POSTed here as JSON (any host, "
                                 "loopback included)."},
    )


class AlertRuleOut(Schema):
    """An alert rule and its state."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    metric = fields.String(required=True)
    operation = fields.String(required=True, allow_none=True)
    window_minutes = fields.Integer(required=True)
    threshold = fields.Float(required=True)
    webhook_url = fields.String(required=True, allow_none=True)
    state = fields.String(required=True, metadata={"description": "ok, firing or resolved."})
    last_value = fields.Float(required=True, allow_none=True)
    evaluated_at = UtcDateTime(required=True, allow_none=True)
    created_at = UtcDateTime(required=True)


class AlertRuleItemOut(AlertRuleOut):
    """The same rule as an item of the listing (a schema of its own for APIFlask)."""


class AlertRulesOut(Schema):
    """Every alert rule: the answer of GET /admin/alerts."""

    items = fields.List(fields.Nested(AlertRuleItemOut), required=True)


class AlertEventOut(Schema):
    """A rule's change of state."""

    id = fields.Integer(required=True)
    rule_id = fields.Integer(required=True)
    rule_name = fields.String(required=True)
    state = fields.String(required=True, metadata={"description": "firing or resolved."})
    value = fields.Float(required=True, allow_none=True)
    threshold = fields.Float(required=True)
    at = UtcDateTime(required=True)


class AlertEventsOut(Schema):
    """The latest events, newest first: the answer of GET /admin/alerts/events."""

    items = fields.List(fields.Nested(AlertEventOut), required=True)


class AlertEventsQuery(Schema):
    """Query parameters of GET /admin/alerts/events."""

    limit = QueryInteger(load_default=1000, validate=validate.Range(min=1, max=1000),
                         metadata={"description": "How many events at most."})
