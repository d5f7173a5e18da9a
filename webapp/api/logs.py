"""Reading the LLM call logs: the caller's own, every log for admins, and the analytics."""

from apiflask import APIBlueprint

from webapp.api.log_schemas import (
    AllLogsPageOut,
    AllLogsQuery,
    AnalyticsWindowQuery,
    ByModelOut,
    EndpointLatencyOut,
    ErrorRatesOut,
    LlmCallLogOut,
    OwnLogsPageOut,
    OwnLogsQuery,
    RevisionsOut,
    StatsQuery,
    SummaryQuery,
    TopCallsOut,
    TopCallsQuery,
    TopUsersOut,
    TopUsersQuery,
    UsageSummaryOut,
)
from webapp.auth import admin_required, current_user, login_required
from webapp.errors import NotFound, ValidationFailed
from webapp.services import log_analytics, log_queries, log_summary
from webapp.services.log_cursor import InvalidCursor
from webapp.services.log_queries import LogFilters

bp = APIBlueprint("logs", __name__, url_prefix="/llm-logs", tag="LLM call logs")


@bp.get("/my-logs")
@login_required
@bp.input(OwnLogsQuery, location="query", arg_name="query")
@bp.output(OwnLogsPageOut)
def my_logs(query):
    """The caller's own logs, newest first.

    Keyset-paged: pass a page's `next_cursor` as `cursor` (with the same filters) for the next.
    """
    try:
        page = log_queries.list_own_logs(str(current_user().id), **query)
    except InvalidCursor as exc:
        raise ValidationFailed({"cursor": str(exc)}) from exc
    return {"items": page.items, "next_cursor": page.next_cursor}


@bp.get("/my-summary")
@login_required
@bp.input(SummaryQuery, location="query", arg_name="query")
@bp.output(UsageSummaryOut)
def my_summary(query):
    """The caller's usage summary over the last `days` × 24 hours."""
    return log_summary.user_summary(str(current_user().id), query["days"])


# strict_slashes off: /llm-logs answers too, instead of an HTML redirect to /llm-logs/.
@bp.get("/", strict_slashes=False)
@admin_required
@bp.input(AllLogsQuery, location="query", arg_name="query")
@bp.output(AllLogsPageOut)
def all_logs(query):
    """Every user's logs, newest first (admins).

    Page with `offset`, or for deep pages with `cursor` (a page's `next_cursor`): a cursor page
    costs what the first page costs. Every page's `total` counts the matching calls now.
    """
    limit, offset, cursor = query.pop("limit"), query.pop("offset"), query.pop("cursor", None)
    try:
        page = log_queries.list_all_logs(LogFilters(**query), limit=limit, offset=offset,
                                         cursor=cursor)
    except InvalidCursor as exc:
        raise ValidationFailed({"cursor": str(exc)}) from exc
    return {
        "items": page.items,
        "total": page.total,
        "limit": limit,
        "offset": page.offset,
        "next_cursor": page.next_cursor,
    }


@bp.get("/<int:log_id>")
@login_required
@bp.output(LlmCallLogOut)
def get_log(log_id):
    """One log: the caller's own, or any for an admin."""
    log = log_queries.get_log(log_id, current_user())
    if log is None:
        raise NotFound("The log does not exist.")
    return log


@bp.get("/stats/top-users")
@admin_required
@bp.input(TopUsersQuery, location="query", arg_name="query")
@bp.output(TopUsersOut)
def top_users(query):
    """The users with the most calls in the last `days` days (admins)."""
    return {"items": log_analytics.top_users(**query)}


@bp.get("/stats/endpoint-latency")
@admin_required
@bp.input(AnalyticsWindowQuery, location="query", arg_name="query")
@bp.output(EndpointLatencyOut)
def endpoint_latency(query):
    """The average duration per endpoint, slowest first (admins)."""
    return {"items": log_analytics.endpoint_latency(**query)}


@bp.get("/stats/error-rates")
@admin_required
@bp.input(AnalyticsWindowQuery, location="query", arg_name="query")
@bp.output(ErrorRatesOut)
def error_rates(query):
    """Calls, failed calls and the error rate per operation type, highest first (admins)."""
    return {"items": log_analytics.error_rates(**query)}


@bp.get("/stats/costliest")
@admin_required
@bp.input(TopCallsQuery, location="query", arg_name="query")
@bp.output(TopCallsOut)
def costliest(query):
    """The costliest calls of the last `days` days, calls without a cost last (admins)."""
    return {"items": log_analytics.costliest(**query)}


@bp.get("/stats/slowest")
@admin_required
@bp.input(TopCallsQuery, location="query", arg_name="query")
@bp.output(TopCallsOut)
def slowest(query):
    """The slowest calls of the last `days` days, calls without a duration last (admins)."""
    return {"items": log_analytics.slowest(**query)}


@bp.get("/stats/by-model")
@admin_required
@bp.input(StatsQuery, location="query", arg_name="query")
@bp.output(ByModelOut)
def by_model(query):
    """Calls, errors, durations, tokens and cost per model and prompt version (admins)."""
    return {"items": log_analytics.by_model(**query)}


@bp.get("/stats/revisions")
@admin_required
@bp.input(StatsQuery, location="query", arg_name="query")
@bp.output(RevisionsOut)
def revisions(query):
    """What users did with the revisions proposed in the last `days` days, per model and
    prompt version: accepted, superseded, pending, and how long acceptance took (admins)."""
    return {"items": log_analytics.revisions(**query)}
