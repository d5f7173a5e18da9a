"""The admin page's sections beyond the seed analytics: costliest calls, by model and prompt
version, and the alert rules' latest events — read through the services of their API routes
(`/llm-logs/stats/costliest`, `/stats/by-model`, `/admin/alerts/events`)."""

from webapp.api.log_schemas import LlmCallLogOut
from webapp.services import alerts, log_analytics

COSTLIEST_LIMIT = 10
ALERT_EVENTS_LIMIT = 20
_LOG_SCHEMA = LlmCallLogOut()


def admin_extra_sections(days, user_id=None, now=None):
    """{"costliest": [log dict], "by_model": [item], "alert_events": [event dict]}."""
    return {
        "costliest": [
            _LOG_SCHEMA.dump(row)
            for row in log_analytics.costliest(days=days, limit=COSTLIEST_LIMIT, user_id=user_id,
                                               now=now)
        ],
        "by_model": log_analytics.by_model(days=days, user_id=user_id, now=now),
        "alert_events": [event.to_dict() for event in alerts.list_events(ALERT_EVENTS_LIMIT)],
    }
