"""Log rows for the tests of the log routes, written straight to the table."""

from datetime import datetime, timedelta, timezone

import factory

from webapp.extensions import db
from webapp.models import LlmCallLog


class LlmCallLogFactory(factory.alchemy.SQLAlchemyModelFactory):
    """A successful create-workout call a minute ago; override what a test is about."""

    class Meta:
        model = LlmCallLog
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731 - the app's scoped session
        sqlalchemy_session_persistence = "commit"

    user_id = "u-default"
    endpoint_name = "llm/create-workout"
    method = "POST"
    timestamp = factory.LazyFunction(lambda: datetime.now(timezone.utc) - timedelta(minutes=1))
    duration_ms = 1200
    success = True
    http_status_code = factory.LazyAttribute(lambda o: 200 if o.success else 500)
    error_message = factory.LazyAttribute(lambda o: None if o.success else "it broke")
    error_type = factory.LazyAttribute(lambda o: None if o.success else "RuntimeError")
    request_data = factory.LazyFunction(lambda: {"prompt": "legs"})
    response_summary = factory.LazyAttribute(lambda o: "Created workout 1" if o.success else None)
    llm_operation_type = "workout_creation"


def ago(**delta):
    """The instant `delta` before now, in UTC."""
    return datetime.now(timezone.utc) - timedelta(**delta)
