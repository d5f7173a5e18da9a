"""The database models; importing this package registers every table on the metadata."""

from webapp.models.alert import AlertEvent, AlertRule
from webapp.models.api_token import ApiToken
from webapp.models.dashboard_session import DashboardSession
from webapp.models.job import Job
from webapp.models.llm_call_log import LlmCallLog
from webapp.models import log_rollup  # noqa: F401  (registers the rollup tables)
from webapp.models.training_plan import TrainingPlan
from webapp.models.user import ErasedUser, User
from webapp.models.workout import Workout, WorkoutRevision

__all__ = [
    "AlertEvent", "AlertRule", "ApiToken", "DashboardSession", "ErasedUser", "Job", "LlmCallLog",
    "TrainingPlan", "User", "Workout", "WorkoutRevision",
]
