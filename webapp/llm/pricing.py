"""What an LLM call cost, from its usage and the price table (SPEC section 6).

Providers answer with a dated snapshot of the model asked for (`gpt-4o-mini` is answered by
`gpt-4o-mini-2024-07-18`), and serve part of the input from a prompt cache at a lower price;
both have to be understood or the log's costs are null or too high.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

# A trailing snapshot date: `-2024-07-18` (today's names) or `-0613` (gpt-4-0613, gpt-3.5-turbo-0125).
_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{4})$")
_PER_MILLION = Decimal(1_000_000)
_SIX_PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class Usage:
    """The token counts of one response; cached and reasoning tokens are parts of the others."""

    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    cached_tokens: int | None
    reasoning_tokens: int | None


def usage_of(response):
    """The usage an OpenAI Chat Completions response reports; cached and reasoning tokens 0
    where the provider names none, every count None without a usage block."""
    usage = getattr(response, "usage", None)
    if usage is None:
        return Usage(None, None, None, None, None)
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    return Usage(
        prompt_tokens=_count(getattr(usage, "prompt_tokens", None)),
        completion_tokens=_count(getattr(usage, "completion_tokens", None)),
        total_tokens=_count(getattr(usage, "total_tokens", None)),
        cached_tokens=_count(getattr(prompt_details, "cached_tokens", None)) or 0,
        reasoning_tokens=_count(getattr(completion_details, "reasoning_tokens", None)) or 0,
    )


def _count(value):
    # The openai client does not validate the response: a count that is not a whole number
    # of tokens (another server's shape) is unknown, not a crash.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def undated(model):
    """The model's name without a trailing snapshot date; the name itself if it has none."""
    return _DATE_SUFFIX.sub("", model or "")


def price_for(prices, response_model, requested_model):
    """The table's entry for the model the response names, else for that name without its
    date, else for the model that was asked for; None if none is listed."""
    for name in (response_model, undated(response_model), requested_model):
        if name and name in prices:
            return prices[name]
    return None


def cost_usd(price, usage):
    """USD for this usage at this price (USD per million tokens), to 6 decimal places:
    uncached input at the input price, cached input at the cached price (the input price if
    the entry names none), output at the output price. None when either is unknown."""
    if price is None or usage.prompt_tokens is None or usage.completion_tokens is None:
        return None
    cached = min(usage.cached_tokens or 0, usage.prompt_tokens)
    input_price = _decimal(price["input"])
    cached_price = _decimal(price.get("cached_input", price["input"]))
    total = (
        (usage.prompt_tokens - cached) * input_price
        + cached * cached_price
        + usage.completion_tokens * _decimal(price["output"])
    )
    return (total / _PER_MILLION).quantize(_SIX_PLACES)


def _decimal(value):
    # Through str: 0.075 as a float is not 0.075.
    return Decimal(str(value))
