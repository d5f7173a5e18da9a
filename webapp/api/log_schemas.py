"""Query parameters and answers of the log routes; they also make their OpenAPI description."""

import re
from datetime import date, datetime, time, timedelta, timezone

from apiflask import Schema, fields
from marshmallow import ValidationError, post_load, validate, validates_schema

from webapp.api.fields import QueryInteger, UtcDateTime, text

# Only real calendar dates and times (no 2026-02-30, no T24:00), so the document's pattern and
# what the route accepts agree: a month's days, February's 29th in leap years only, years 1-9999.
_YEAR = r"(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_DATE = (
    rf"(?:{_YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    rf"|{_LEAP_YEAR}-02-29)"
)
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
_ZONE = r"(?:Z|[+ -](?:[01][0-9]|2[0-3]):[0-5][0-9])"
_ISO_8601 = rf"{_DATE}(?:[T ]{_TIME}{_ZONE}?)?"
_OFFSET_AFTER_SPACE = re.compile(r"([0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?) ([0-9]{2}:[0-9]{2})$")
# A cursor is what webapp.services.log_cursor makes: URL-safe base64 of its payload (after a
# "." when compressed), a ".", and the signature; about 170 characters at most.
MAX_CURSOR_LENGTH = 256
CURSOR_PATTERN = r"^\.?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"
# Deeper pages are read by cursor; a bound that a JSON number holds exactly.
MAX_OFFSET = 1_000_000_000


class IsoInstant(fields.String):
    """An ISO 8601 date (kept a date) or date-time (made UTC; UTC if it names no offset)."""

    default_error_messages = {
        "invalid_instant": "Not an ISO 8601 date (YYYY-MM-DD) or date-time "
        "(YYYY-MM-DDTHH:MM[:SS[.ffffff]][Z|±HH:MM])."
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {})
        kwargs["metadata"].setdefault("pattern", f"^{_ISO_8601}$")
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        # An unencoded "+" in a query string arrives as a space: "…T10:00:00 02:00".
        text = _OFFSET_AFTER_SPACE.sub(r"\1+\2", text)
        if not re.fullmatch(_ISO_8601, text):
            raise self.make_error("invalid_instant")
        try:
            if len(text) == len("YYYY-MM-DD"):
                return date.fromisoformat(text)
            instant = datetime.fromisoformat(text)
            if instant.tzinfo is None:
                return instant.replace(tzinfo=timezone.utc)
            return instant.astimezone(timezone.utc)
        except (ValueError, OverflowError) as exc:
            raise self.make_error("invalid_instant") from exc


def _filter_text(max_length, description):
    return text(max_length=max_length, metadata={"description": description})


def _success():
    return fields.Boolean(
        truthy={"true", "True", "TRUE", "1"},
        falsy={"false", "False", "FALSE", "0"},
        metadata={"description": "Only successful (`true`) or failed (`false`) calls."},
    )


def _days(default, description):
    return QueryInteger(
        load_default=default,
        validate=validate.Range(min=1, max=365),
        metadata={"description": description},
    )


def _limit(default, maximum):
    return QueryInteger(
        load_default=default,
        validate=validate.Range(min=1, max=maximum),
        metadata={"description": "How many items at most."},
    )


def _cursor():
    return fields.String(
        validate=[validate.Length(min=1, max=MAX_CURSOR_LENGTH),
                  validate.Regexp(CURSOR_PATTERN, error="Not a cursor issued by this listing.")],
        metadata={
            "description": "The `next_cursor` of the previous page, to get the page after it "
            "(with the same filters)."
        },
    )


class OwnLogsFilters(Schema):
    """The filters of the caller's own logs (my-logs and its export)."""

    endpoint_name = _filter_text(255, "Only calls of this endpoint, e.g. `llm/create-workout`.")
    llm_operation_type = _filter_text(64, "Only calls of this operation type.")
    success = _success()
    days = _days(7, "Only calls of the last `days` × 24 hours.")


class OwnLogsQuery(OwnLogsFilters):
    """The query parameters of GET /llm-logs/my-logs."""

    limit = _limit(50, 500)
    cursor = _cursor()


class AllLogsFilters(Schema):
    """The filters of every user's logs (the admin listing and its export)."""

    user_id = _filter_text(36, "Only calls of this user (the user's UUID).")
    endpoint_name = _filter_text(255, "Only calls of this endpoint, e.g. `llm/create-workout`.")
    llm_operation_type = _filter_text(64, "Only calls of this operation type.")
    success = _success()
    start_date = IsoInstant(
        metadata={"description": "Only calls at or after this date (from its midnight UTC) or "
                  "date-time (UTC unless it names an offset)."}
    )
    end_date = IsoInstant(
        metadata={"description": "Only calls up to this date (the whole day, UTC) or date-time "
                  "(inclusive)."}
    )

    @post_load
    def _period(self, data, **kwargs):
        """Turn start_date / end_date into the bounds since (inclusive) and before (exclusive)."""
        since = _start_of(data.pop("start_date", None))
        before = _after(data.pop("end_date", None))
        if since is not None and before is not None and before <= since:
            raise ValidationError("Must not be before start_date.", field_name="end_date")
        return {**data, "since": since, "before": before}


class AllLogsQuery(AllLogsFilters):
    """The query parameters of GET /llm-logs/ (admins)."""

    limit = _limit(50, 500)
    offset = QueryInteger(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_OFFSET),
        metadata={"description": "How many matching calls to skip (use `cursor` for deep pages)."},
    )
    cursor = _cursor()

    @validates_schema
    def _one_way_of_paging(self, data, **kwargs):
        if data.get("cursor") and data.get("offset"):
            raise ValidationError("Use either offset or cursor, not both.", field_name="offset")


EXPORT_FORMATS = ("csv", "jsonl")


def _format():
    return fields.String(
        load_default="jsonl",
        validate=validate.OneOf(EXPORT_FORMATS, error="Must be csv or jsonl, not {input!r}."),
        metadata={"description": "`csv` (a header row, then one row per call) or `jsonl` "
                  "(one log object per line)."},
    )


class OwnLogsExportQuery(OwnLogsFilters):
    """The query parameters of GET /llm-logs/my-logs/export."""

    format = _format()


class AllLogsExportQuery(AllLogsFilters):
    """The query parameters of GET /llm-logs/export (admins)."""

    format = _format()


def _start_of(value):
    """The first instant a start_date admits."""
    if isinstance(value, datetime) or value is None:
        return value
    return datetime.combine(value, time.min, tzinfo=timezone.utc)


def _after(value):
    """The first instant an end_date excludes: the next midnight for a date, the next microsecond
    (PostgreSQL's resolution) for a date-time; None when that is past the end of the calendar."""
    if value is None:
        return None
    try:
        if isinstance(value, datetime):
            return value + timedelta(microseconds=1)
        return datetime.combine(value + timedelta(days=1), time.min, tzinfo=timezone.utc)
    except OverflowError:
        return None


class SummaryQuery(Schema):
    """The query parameters of GET /llm-logs/my-summary."""

    days = _days(7, "The summary covers the last `days` × 24 hours.")


class TopUsersQuery(Schema):
    """The query parameters of GET /llm-logs/stats/top-users."""

    days = _days(7, "Count the calls of the last `days` days.")
    limit = _limit(10, 100)


class AnalyticsWindowQuery(Schema):
    """The query parameters of GET /llm-logs/stats/endpoint-latency and /stats/error-rates."""

    days = QueryInteger(
        validate=validate.Range(min=1, max=365),
        metadata={"description": "Only the calls of the last `days` days (default: every call)."},
    )


class LlmCallLogOut(Schema):
    """One LLM call log: the answer of GET /llm-logs/{log_id}."""

    id = fields.Integer(required=True)
    user_id = fields.String(required=True, metadata={"description": "The user's UUID."})
    endpoint_name = fields.String(required=True)
    method = fields.String(required=True)
    timestamp = UtcDateTime(required=True, metadata={"description": "When the call started (UTC)."})
    duration_ms = fields.Integer(required=True, allow_none=True)
    success = fields.Boolean(required=True)
    http_status_code = fields.Integer(required=True, allow_none=True)
    error_message = fields.String(required=True, allow_none=True)
    error_type = fields.String(required=True, allow_none=True)
    # Any JSON value: the service writes an object (or null), but a row loaded from outside
    # may hold any JSONB value, and is answered as stored rather than failing the listing.
    request_data = fields.Raw(
        required=True, allow_none=True,
        metadata={"description": "What the call was asked, redacted: a JSON object, or null "
                  "with LOG_REQUEST_DATA off; a row loaded from outside answers what it holds."},
    )
    response_summary = fields.String(required=True, allow_none=True)
    llm_operation_type = fields.String(required=True, allow_none=True)
    workout_id = fields.Integer(required=True, allow_none=True)
    training_plan_id = fields.Integer(required=True, allow_none=True)
    user_agent = fields.String(required=True, allow_none=True)
    ip_address = fields.String(required=True, allow_none=True)
    job_id = fields.UUID(required=True, allow_none=True)
    model = fields.String(required=True, allow_none=True)
    prompt_tokens = fields.Integer(required=True, allow_none=True)
    completion_tokens = fields.Integer(required=True, allow_none=True)
    total_tokens = fields.Integer(required=True, allow_none=True)
    # A JSON number, not the string Flask would make of a Decimal.
    cost_usd = fields.Float(required=True, allow_none=True)
    queue_wait_ms = fields.Integer(required=True, allow_none=True)
    attempt = fields.Integer(required=True, allow_none=True)
    call_id = fields.UUID(
        required=True, metadata={"description": "Made when the call started; a replay lands once."}
    )
    request_id = fields.String(
        required=True, allow_none=True,
        metadata={"description": "The X-Request-ID of the HTTP request that started the call."},
    )
    cached_tokens = fields.Integer(
        required=True, allow_none=True,
        metadata={"description": "Input tokens served from the provider's prompt cache."},
    )
    reasoning_tokens = fields.Integer(required=True, allow_none=True)
    prompt_name = fields.String(required=True, allow_none=True)
    prompt_version = fields.Integer(required=True, allow_none=True)


class LlmCallLogItemOut(LlmCallLogOut):
    """The same log as an item of a listing.

    A class of its own because APIFlask registers a schema used both nested and as a route's
    whole answer twice (as `LlmCallLogOut1`, with a warning).
    """


def _next_cursor():
    return fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Pass as `cursor` for the next page; null on the last page."},
    )


class OwnLogsPageOut(Schema):
    """A page of the caller's own logs: the answer of GET /llm-logs/my-logs."""

    items = fields.List(fields.Nested(LlmCallLogItemOut), required=True)
    next_cursor = _next_cursor()


class AllLogsPageOut(Schema):
    """A page of every user's logs: the answer of GET /llm-logs/ (admins)."""

    items = fields.List(fields.Nested(LlmCallLogItemOut), required=True)
    total = fields.Integer(
        required=True,
        metadata={"description": "How many calls match the filters now (on every page)."},
    )
    limit = fields.Integer(required=True)
    offset = fields.Integer(
        required=True, metadata={"description": "How many matching calls come before this page."}
    )
    next_cursor = _next_cursor()


class DayOut(Schema):
    """One UTC date of a usage summary: its calls and failed calls."""

    date = fields.String(required=True, metadata={"description": "A UTC date, YYYY-MM-DD."})
    total_calls = fields.Integer(required=True)
    failed_calls = fields.Integer(required=True)


def _counts(description):
    return fields.Dict(
        keys=fields.String(), values=fields.Integer(), required=True,
        metadata={"description": description},
    )


class UsageSummaryOut(Schema):
    """The caller's usage summary: the answer of GET /llm-logs/my-summary."""

    total_calls = fields.Integer(required=True)
    successful_calls = fields.Integer(required=True)
    failed_calls = fields.Integer(required=True)
    success_rate = fields.Float(
        required=True, metadata={"description": "Percent, 2 decimals; 0.0 without calls."}
    )
    average_duration_ms = fields.Float(
        required=True, allow_none=True,
        metadata={"description": "2 decimals; null when no call has a duration."},
    )
    most_used_endpoints = _counts("Endpoint → calls, most first, the top 10.")
    operation_types = _counts("Operation type → calls, most first.")
    error_types = _counts("Error type → failed calls, most first.")
    date_range = fields.String(
        required=True, metadata={"description": "`YYYY-MM-DD to YYYY-MM-DD` (UTC)."}
    )
    p50_duration_ms = fields.Float(required=True, allow_none=True)
    p95_duration_ms = fields.Float(required=True, allow_none=True)
    total_tokens = fields.Integer(required=True)
    total_cost_usd = fields.Float(
        required=True, metadata={"description": "The sum of the known costs."}
    )
    daily = fields.List(
        fields.Nested(DayOut), required=True,
        metadata={"description": "Each UTC date of date_range, oldest first."},
    )


class TopUserOut(Schema):
    """One user and their number of calls, in the top users."""

    user_id = fields.String(required=True)
    call_count = fields.Integer(required=True)


class TopUsersOut(Schema):
    """The users with the most calls: the answer of GET /llm-logs/stats/top-users."""

    items = fields.List(fields.Nested(TopUserOut), required=True)


class EndpointLatencyItemOut(Schema):
    """One endpoint and the average duration of its calls."""

    endpoint_name = fields.String(required=True)
    avg_duration_ms = fields.Float(required=True)


class EndpointLatencyOut(Schema):
    """The average duration per endpoint: the answer of GET /llm-logs/stats/endpoint-latency."""

    items = fields.List(fields.Nested(EndpointLatencyItemOut), required=True)


class ErrorRateItemOut(Schema):
    """One operation type's calls, failed calls and error rate."""

    llm_operation_type = fields.String(required=True)
    total_calls = fields.Integer(required=True)
    failed_calls = fields.Integer(required=True)
    error_rate = fields.Float(
        required=True, metadata={"description": "Percent of failed calls, 2 decimals."}
    )


class ErrorRatesOut(Schema):
    """The error rate per operation type: the answer of GET /llm-logs/stats/error-rates."""

    items = fields.List(fields.Nested(ErrorRateItemOut), required=True)


class StatsQuery(Schema):
    """The query parameters of GET /llm-logs/stats/by-model and /stats/revisions."""

    days = _days(7, "Only the last `days` days.")
    user_id = _filter_text(36, "Only this user's (the user's UUID).")


class TopCallsQuery(StatsQuery):
    """The query parameters of GET /llm-logs/stats/costliest and /stats/slowest."""

    limit = _limit(10, 100)


class TopCallsOut(Schema):
    """Calls ranked by cost or duration: the answer of /stats/costliest and /stats/slowest."""

    items = fields.List(fields.Nested(LlmCallLogItemOut), required=True)


class ByModelItemOut(Schema):
    """The calls of one model and prompt version."""

    model = fields.String(required=True, allow_none=True)
    prompt_name = fields.String(required=True, allow_none=True)
    prompt_version = fields.Integer(required=True, allow_none=True)
    calls = fields.Integer(required=True)
    failed_calls = fields.Integer(required=True)
    error_rate = fields.Float(
        required=True, metadata={"description": "Percent of failed calls, 2 decimals."}
    )
    avg_duration_ms = fields.Float(required=True, allow_none=True)
    p95_duration_ms = fields.Float(required=True, allow_none=True)
    total_tokens = fields.Integer(required=True)
    total_cost_usd = fields.Float(required=True)


class ByModelOut(Schema):
    """Calls per model and prompt version: the answer of GET /llm-logs/stats/by-model."""

    items = fields.List(fields.Nested(ByModelItemOut), required=True)


class RevisionsItemOut(Schema):
    """What users did with the revisions one model and prompt version proposed."""

    model = fields.String(required=True, allow_none=True)
    prompt_version = fields.Integer(required=True, allow_none=True)
    revisions = fields.Integer(required=True, metadata={"description": "Proposed in the window."})
    accepted = fields.Integer(required=True)
    superseded = fields.Integer(
        required=True, metadata={"description": "Replaced by a newer revision before an accept."}
    )
    pending = fields.Integer(required=True, metadata={"description": "Still waiting."})
    acceptance_rate = fields.Float(
        required=True, metadata={"description": "accepted ÷ revisions × 100, 2 decimals."}
    )
    median_seconds_to_accept = fields.Float(
        required=True, allow_none=True,
        metadata={"description": "From proposal to accept; null when none was accepted."},
    )


class RevisionsOut(Schema):
    """Revision outcomes per model and prompt version: GET /llm-logs/stats/revisions."""

    items = fields.List(fields.Nested(RevisionsItemOut), required=True)
