"""The database models; importing this package registers every table on the metadata."""

from webapp.models.api_token import ApiToken
from webapp.models.llm_call_log import LlmCallLog
from webapp.models.user import User

__all__ = ["ApiToken", "LlmCallLog", "User"]
