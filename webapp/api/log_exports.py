"""Exports of the call log: every log for admins, the caller's own (SPEC section 8)."""

from apiflask import APIBlueprint
from flask import Response, stream_with_context

from webapp.api.log_schemas import AllLogsExportQuery, LlmCallLogOut, OwnLogsExportQuery
from webapp.auth import admin_required, current_user, login_required
from webapp.services import log_export
from webapp.services.log_queries import LogFilters

bp = APIBlueprint("log_exports", __name__, url_prefix="/llm-logs", tag="LLM call log exports")

_EXPORT_DOC = {200: {"description": "CSV (a header row, then one row per call) or JSON lines "
                                    "(one log object per line), newest first, streamed.",
                     "content": {"text/csv": {}, "application/x-ndjson": {}}}}


def log_objects():
    """A log row as GET /llm-logs/<id> answers it, and the names of its columns in order."""
    schema = LlmCallLogOut()
    return schema.dump, list(schema.fields)


def export_response(filters, fmt, prefix):
    """A streamed answer of the rows matching `filters`, without a Content-Length."""
    as_dict, columns = log_objects()
    stream = log_export.RowStream(filters)
    body = stream_with_context(log_export.encode(stream, fmt, as_dict, columns))
    response = Response(body, content_type=log_export.CONTENT_TYPES[fmt])
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{log_export.file_name(prefix, fmt)}"')
    response.call_on_close(stream.close)
    return response


@bp.get("/export")
@admin_required
@bp.input(AllLogsExportQuery, location="query", arg_name="query")
@bp.doc(responses=_EXPORT_DOC)
def export_all(query):
    """Every log matching the admin listing's filters, as CSV or JSON lines (admins)."""
    fmt = query.pop("format")
    return export_response(LogFilters(**query), fmt, "llm-logs")


@bp.get("/my-logs/export")
@login_required
@bp.input(OwnLogsExportQuery, location="query", arg_name="query")
@bp.doc(responses=_EXPORT_DOC)
def export_own(query):
    """The caller's own logs of the last `days` × 24 hours, as CSV or JSON lines."""
    fmt = query.pop("format")
    filters = log_export.own_filters(str(current_user().id), **query)
    return export_response(filters, fmt, "my-llm-logs")
