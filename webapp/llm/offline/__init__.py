"""The built-in offline backend: an OpenAI-compatible Chat Completions server run by rules.

It serves when no LLM is configured (SPEC section 3). The app's real ``openai`` client reaches
it in-process through a WSGI transport, so offline calls are made, validated and logged exactly
like real ones. No model is involved: answers are composed from the request and the exercise
library, and the same request always gets the same answer.
"""

from webapp.llm.offline.server import OFFLINE_MODEL, app

__all__ = ["OFFLINE_MODEL", "app"]
