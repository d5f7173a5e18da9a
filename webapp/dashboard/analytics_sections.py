"""The admin page's costliest calls and by-model/prompt-version sections.

They read `log_analytics.costliest(days, limit, user_id, now)` and
`log_analytics.by_model(days, user_id, now)`, the services behind `/llm-logs/stats/costliest`
and `/stats/by-model` (SPEC §8). Until those services are merged the sections say they are not
available; once they exist the sections fill in with no change here.
"""

from webapp.api.log_schemas import LlmCallLogOut
from webapp.services import log_analytics

COSTLIEST_LIMIT = 10
_LOG_SCHEMA = LlmCallLogOut()


def admin_extra_sections(days, user_id=None, now=None):
    """{"costliest": [log dict] | None, "by_model": [item] | None}; None: not available."""
    costliest = getattr(log_analytics, "costliest", None)
    by_model = getattr(log_analytics, "by_model", None)
    return {
        "costliest": None if costliest is None else [
            _as_log(row) for row in costliest(days=days, limit=COSTLIEST_LIMIT, user_id=user_id,
                                              now=now)
        ],
        "by_model": None if by_model is None else by_model(days=days, user_id=user_id, now=now),
    }


def _as_log(row):
    """A log row (model object or dict) as the API shows a log."""
    return row if isinstance(row, dict) else _LOG_SCHEMA.dump(row)
