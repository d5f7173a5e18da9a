"""The dashboard's pages: sign-in, a user's own page, one log, the admin's page.

Thin views: each parses the page's query string with the API's own schemas, reads through the
services the API uses, and renders a template.
"""

import json
from datetime import datetime, timedelta
from functools import wraps

from flask import abort, g, redirect, render_template, request, url_for
from marshmallow import ValidationError

from webapp.api.log_schemas import AllLogsFilters, LlmCallLogOut, OwnLogsQuery
from webapp.dashboard import bp, charts, formatting, root_bp
from webapp.dashboard.analytics_sections import admin_extra_sections
from webapp.dashboard.session import sign_in, sign_out, signed_in_user
from webapp.extensions import csrf
from webapp.services import job_listing, log_analytics, log_daily, log_overview, log_queries, log_summary
from webapp.services.log_cursor import InvalidCursor
from webapp.services.log_queries import LogFilters
from webapp.services.log_rollups import utc_now

DAY_CHOICES = (1, 7, 30)
DEFAULT_DAYS = 7
PAGE_SIZE = 100
# my-logs' filter names, kept in the page's URL.
LOG_FILTERS = ("endpoint_name", "llm_operation_type", "success")
PAGE_PARAMETERS = (*LOG_FILTERS, "days", "cursor")
CARDS = (
    ("total_calls", "Calls", "count"),
    ("success_rate", "Success rate", "percent"),
    ("average_duration_ms", "Average duration", "ms"),
    ("p95_duration_ms", "p95 duration", "ms"),
    ("total_tokens", "Tokens", "count"),
    ("total_cost_usd", "Cost", "usd"),
)
_LOG_SCHEMA = LlmCallLogOut()


@root_bp.get("/")
def root():
    """People who open the service's address land on the dashboard."""
    return redirect(url_for("dashboard.index"))


@bp.before_request
def _protect_forms():
    # Who is signed in, and Flask-WTF's signed CSRF token, are made afresh for each request:
    # g outlives a request where an app context was pushed around several (tests, scripts).
    g.pop("dashboard_user", None)
    g.pop("csrf_token", None)
    # Every state-changing form of the dashboard carries Flask-WTF's CSRF token.
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


@bp.after_request
def _no_store(response):
    # Pages show one person's data: no shared cache keeps them, no page is framed elsewhere.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.context_processor
def _helpers():
    return {"fmt": formatting.FILTERS, "me": g.get("dashboard_user"), "cards": CARDS,
            "day_choices": DAY_CHOICES}


def signed_in(view):
    """Show the sign-in form instead of the page to a visitor who is not signed in."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if signed_in_user() is None:
            # A page with a form on it, as a browser or a script expects to find one.
            return render_template("dashboard/sign_in.html")
        return view(*args, **kwargs)

    return wrapper


def _page_query():
    """The page's days and my-logs filters, checked as my-logs checks them (400 page if bad)."""
    # Only the names the page uses; anything else in the URL (user_id, limit, ...) is not a
    # my-logs filter here.
    args = {key: value for key, value in request.args.items()
            if key in PAGE_PARAMETERS and value != ""}
    try:
        query = OwnLogsQuery().load({**args, "limit": PAGE_SIZE})
    except ValidationError as exc:
        _invalid_filters(exc)
    if "days" not in args:
        query["days"] = DEFAULT_DAYS
    if query["days"] not in DAY_CHOICES:
        abort(400, description="days must be 1, 7 or 30.")
    return query


def _invalid_filters(exc):
    """The 400 page naming what is wrong with each of the page's filters."""
    fields = "; ".join(f"{name}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
                       for name, msgs in exc.messages.items())
    abort(400, description=f"The page's filters are invalid ({fields}).")


def _user_filter():
    """The admin page's user filter, checked as the admin listing checks its user_id."""
    user_id = (request.args.get("user_id") or "").strip() or None
    if user_id is not None:
        try:
            AllLogsFilters(only=("user_id",)).load({"user_id": user_id})
        except ValidationError as exc:
            _invalid_filters(exc)
    return user_id


def _filter_links(query, extra=None):
    """The page's filters as URL parameters (for the day links and the next-page link)."""
    params = {name: request.args[name] for name in LOG_FILTERS if request.args.get(name)}
    params["days"] = query["days"]
    params.update(extra or {})
    return params


def _logs_page(page_fn):
    try:
        return page_fn()
    except InvalidCursor:
        abort(400, description="The page's cursor is invalid or belongs to other filters.")


@bp.get("/")
@signed_in
def index():
    """The user's own page: cards, charts, logs and jobs."""
    user = g.dashboard_user
    query = _page_query()
    user_id = str(user.id)
    now = utc_now()
    summary = log_summary.user_summary(user_id, query["days"], now=now)
    page = _logs_page(lambda: log_queries.list_own_logs(user_id, now=now, **query))
    return render_template(
        "dashboard/user.html",
        query=query, summary=summary, page=page, logs=[_LOG_SCHEMA.dump(log) for log in page.items],
        calls_chart=charts.calls_per_day(summary["daily"]),
        latency_chart=charts.latency_per_day(
            log_daily.user_daily_latency(user_id, query["days"], now=now),
            ("p50_duration_ms", "p95_duration_ms")),
        jobs=job_listing.recent_jobs(user.id),
        filters=_filter_links(query), next_params=_filter_links(query, {"cursor": page.next_cursor}),
    )


@bp.get("/logs/<int:log_id>")
@signed_in
def log_page(log_id):
    """One log, every field; another user's log is a 404 page (an admin sees any)."""
    log = log_queries.get_log(log_id, g.dashboard_user)
    if log is None:
        abort(404)
    shown = _LOG_SCHEMA.dump(log)
    return render_template("dashboard/log.html", log=shown,
                           request_json=json.dumps(shown["request_data"], indent=2,
                                                   ensure_ascii=False))


@bp.get("/admin")
@signed_in
def admin():
    """The admin's page: everyone's figures and logs, the analytics, a user filter."""
    if not g.dashboard_user.is_admin:
        abort(403)
    query = _page_query()
    user_id = _user_filter()
    days, now = query["days"], utc_now()
    if user_id is None:
        summary = log_overview.everyone_summary(days, now=now)
        summary["p95_duration_ms"] = log_overview.everyone_percentiles(days, now=now)[1]
        latency = charts.latency_per_day(log_daily.everyone_daily_latency(days, now=now),
                                         ("avg_duration_ms",))
    else:
        summary = log_summary.user_summary(user_id, days, now=now)
        latency = charts.latency_per_day(log_daily.user_daily_latency(user_id, days, now=now),
                                         ("p50_duration_ms", "p95_duration_ms"))
    filters = LogFilters(
        user_id=user_id, endpoint_name=query.get("endpoint_name"),
        llm_operation_type=query.get("llm_operation_type"), success=query.get("success"),
        since=_window_start(query, now),
    )
    page = _logs_page(lambda: log_queries.list_all_logs(filters, limit=PAGE_SIZE,
                                                        cursor=query.get("cursor")))
    extra = {"user_id": user_id} if user_id else {}
    # The admin listing's cursor is bound to its window's start, so the next page keeps it.
    next_extra = {**extra, "since": filters.since.isoformat()}
    return render_template(
        "dashboard/admin.html",
        query=query, user_id=user_id, summary=summary, page=page,
        logs=[_LOG_SCHEMA.dump(log) for log in page.items],
        calls_chart=charts.calls_per_day(summary["daily"]), latency_chart=latency,
        top_users=log_analytics.top_users(days=days, now=now),
        error_rates=log_analytics.error_rates(days=days, now=now),
        endpoint_latency=log_analytics.endpoint_latency(days=days, now=now),
        sections=admin_extra_sections(days=days, user_id=user_id, now=now),
        jobs=job_listing.recent_jobs(),
        filters=_filter_links(query, extra),
        next_params=_filter_links(query, {**next_extra, "cursor": page.next_cursor}),
    )


def _window_start(query, now):
    """The admin listing's window start: now - days, or on a cursor page the first page's."""
    since = request.args.get("since")
    if not query.get("cursor") or not since:
        return now - timedelta(days=query["days"])
    try:
        start = datetime.fromisoformat(since)
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        abort(400, description="since must be an ISO 8601 date-time with its offset.")
    return start


@bp.post("/sign-in")
def sign_in_form():
    """Check the token; signed in, on to the page, else the form again with an error."""
    if sign_in(request.form.get("token")) is None:
        # 200: the sign-in page again, with the error on it for people (role="alert").
        return render_template(
            "dashboard/sign_in.html", error="That token is not valid. Check it and try again."
        )
    return redirect(url_for("dashboard.index"), 303)


@bp.post("/sign-out")
def sign_out_form():
    """End the session and show the sign-in form again."""
    sign_out()
    return redirect(url_for("dashboard.index"), 303)
