"""The one way to call the LLM: Chat Completions through the `openai` client.

The worker retries, not the client (its max_retries is 0): each attempt is
logged on its own, so retries are visible in the log. Without OPENAI_API_KEY and
OPENAI_BASE_URL the calls go, through the same client, to the offline backend.
"""

import email.utils
import functools
import json
import random
import time

import httpx2
import openai
from flask import current_app
from openai.types.chat import ChatCompletion
from pydantic import ValidationError

from webapp.llm import offline, pricing
from webapp.llm.errors import InvalidLLMOutput
from webapp.llm.schemas import JSON_SCHEMAS, SCHEMA_NAMES

OFFLINE_BASE_URL = "http://offline-backend.invalid/v1"
NOT_A_COMPLETION = "The LLM server's answer is not a chat completion."


@functools.lru_cache(maxsize=8)
def openai_client(api_key, base_url, timeout_s, connections=100):
    """An `openai.OpenAI` client, one per process and setting, shared by the worker's threads;
    its connection pool keeps `connections` open, one per call the worker has in flight.

    With neither a key nor a base URL it talks to the offline backend, in this process.
    Made on first use, so a forked worker makes its own.
    """
    options = {"timeout": timeout_s, "max_retries": 0}
    if api_key or base_url:
        limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
        return openai.OpenAI(
            api_key=api_key or "not-needed",
            base_url=base_url,
            http_client=openai.DefaultHttpxClient(limits=limits, timeout=timeout_s),
            **options,
        )
    transport = httpx2.WSGITransport(app=offline.app)
    return openai.OpenAI(
        api_key="offline",
        base_url=OFFLINE_BASE_URL,
        http_client=httpx2.Client(transport=transport, timeout=timeout_s),
        **options,
    )


def complete(kind, messages, call_logger):
    """Ask the LLM for one JSON answer of this kind; return it validated, as a dict.

    The caller has named the prompt on `call_logger` (an attempt does it before it builds the
    messages); the model, tokens and cost go on it as soon as the response arrives, so an
    answer that fails validation is still logged with what it cost.
    """
    config = current_app.config
    client = openai_client(config["OPENAI_API_KEY"], config["OPENAI_BASE_URL"],
                           config["LLM_TIMEOUT_S"], config["WORKER_CONCURRENCY"])
    requested = config["LLM_MODEL"]
    try:
        response = client.chat.completions.create(
            model=requested,
            messages=messages,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": kind, "schema": JSON_SCHEMAS[kind]},
            },
        )
    except json.JSONDecodeError as exc:
        # A 200 whose body is not JSON: a proxy's page, or a base URL that is no LLM API.
        raise InvalidLLMOutput(NOT_A_COMPLETION) from exc
    if not isinstance(response, ChatCompletion) or not isinstance(response.model, str | None):
        raise InvalidLLMOutput(NOT_A_COMPLETION)
    usage = pricing.usage_of(response)
    price = pricing.price_for(config["LLM_PRICES"], response.model, requested)
    call_logger.set_fields(
        model=response.model,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        cached_tokens=usage.cached_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        cost_usd=pricing.cost_usd(price, usage),
    )
    return parse_answer(kind, response)


def parse_answer(kind, response):
    """Validate the answer's content against the schema; InvalidLLMOutput if it does not fit."""
    if not response.choices:
        raise InvalidLLMOutput("The LLM answered no choices.")
    # The openai client builds the response without validating it: another JSON shape under
    # `choices` arrives as it came.
    choices = response.choices
    message = getattr(choices[0], "message", None) if isinstance(choices, list) else None
    if not hasattr(message, "content"):
        raise InvalidLLMOutput(NOT_A_COMPLETION)
    content = message.content or ""
    try:
        draft = SCHEMA_NAMES[kind].model_validate_json(content)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise InvalidLLMOutput(f"The LLM answer does not fit the {kind} schema: {problems}") from exc
    return draft.model_dump()


def is_transient(exc):
    """Errors worth another attempt: rate limits, 5xx, timeouts, connection errors."""
    if isinstance(exc, (openai.RateLimitError, openai.APIConnectionError)):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


def retry_delay(exc, attempt, base_s, max_s):
    """Seconds to wait before the next attempt: Retry-After if the server sent one,
    else exponential backoff with full jitter; never more than max_s."""
    retry_after = _retry_after_seconds(exc)
    if retry_after is not None:
        return min(max_s, retry_after)
    return min(max_s, random.uniform(0, base_s * 2 ** (attempt - 1)))


def _retry_after_seconds(exc):
    response = getattr(exc, "response", None)
    if response is None:
        return None
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


def with_retries(attempt_once, *, max_retries, base_s, max_s, sleep=time.sleep):
    """Run attempt_once(attempt) until it succeeds, a non-transient error, or retries run out."""
    attempt = 1
    while True:
        try:
            return attempt_once(attempt)
        except Exception as exc:
            if attempt > max_retries or not is_transient(exc):
                raise
            sleep(retry_delay(exc, attempt, base_s, max_s))
            attempt += 1
