"""Errors of LLM calls that are ours rather than the openai client's."""


class InvalidLLMOutput(Exception):
    """The LLM answered something that is not JSON or does not fit the schema (not retried)."""
