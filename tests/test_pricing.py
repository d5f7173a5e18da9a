"""What a call cost, as OpenAI bills it: dated model names, cached input, a replaceable table."""

import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from config import DEFAULT_LLM_PRICES
from scripts.services import ROOT as ROOT_DIR
from tests.llm_server import OPENAI_USAGE
from tests.test_operations import log_rows, poll, submit
from webapp.llm import pricing


@pytest.mark.parametrize("name, expected", [
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
    ("gpt-4-0613", "gpt-4"),
    ("o4-mini", "o4-mini"),
    ("gpt-4o-mini", "gpt-4o-mini"),
])
def test_the_date_suffix_of_a_snapshot_is_dropped(name, expected):
    assert pricing.undated(name) == expected


def test_the_price_is_found_under_the_response_model_then_undated_then_the_requested():
    prices = {"a-2025-01-01": {"input": 1, "output": 1}, "a": {"input": 2, "output": 2},
              "asked": {"input": 3, "output": 3}}
    assert pricing.price_for(prices, "a-2025-01-01", "asked")["input"] == 1
    assert pricing.price_for(prices, "a-2026-02-02", "asked")["input"] == 2
    assert pricing.price_for(prices, "unknown-model", "asked")["input"] == 3
    assert pricing.price_for(prices, "unknown-model", "also-unknown") is None


def test_cached_input_is_priced_at_the_cached_price_and_falls_back_to_the_input_price():
    usage = pricing.Usage(prompt_tokens=1000, completion_tokens=100, total_tokens=1100,
                          cached_tokens=800, reasoning_tokens=0)
    # 200 × 1.00 + 800 × 0.25 + 100 × 4.00 per million
    assert pricing.cost_usd({"input": 1.0, "cached_input": 0.25, "output": 4.0}, usage) == \
        Decimal("0.000800")
    # No cached price: every input token at the input price.
    assert pricing.cost_usd({"input": 1.0, "output": 4.0}, usage) == Decimal("0.001400")


def test_every_default_price_names_input_cached_input_and_output():
    for model, price in DEFAULT_LLM_PRICES.items():
        assert set(price) == {"input", "cached_input", "output"}, model
        assert price["cached_input"] <= price["input"], model


def test_a_dated_model_with_cached_and_reasoning_tokens_is_priced_as_openai_bills_it(
        app, client, auth, llm, celery_worker):
    llm.answer_as("gpt-4o-mini-2024-07-18", OPENAI_USAGE)
    _, headers = auth.user()
    job = poll(client, headers, submit(client, headers).get_json()["job_id"])
    assert job["status"] == "succeeded"
    [row] = log_rows(app, 1)
    assert llm.requests[0]["model"] == "gpt-4o-mini"
    assert row.model == "gpt-4o-mini-2024-07-18"
    assert (row.prompt_tokens, row.cached_tokens, row.completion_tokens, row.reasoning_tokens,
            row.total_tokens) == (2006, 1920, 300, 64, 2306)
    # (2006 − 1920) × 0.15 + 1920 × 0.075 + 300 × 0.60 per million = 0.0000129 + 0.000144 + 0.00018
    assert row.cost_usd == Decimal("0.000337")
    body = client.get(f"/llm-logs/{row.id}", headers=headers).get_json()
    assert (body["cached_tokens"], body["reasoning_tokens"], body["cost_usd"]) == (1920, 64, 0.000337)


def test_a_response_without_usage_details_has_zero_cached_and_reasoning_tokens(
        app, client, auth, llm, celery_worker):
    llm.answer_as("gpt-4o-mini-2024-07-18")
    _, headers = auth.user()
    poll(client, headers, submit(client, headers).get_json()["job_id"])
    [row] = log_rows(app, 1)
    assert (row.cached_tokens, row.reasoning_tokens) == (0, 0)
    assert row.cost_usd == Decimal("0.000066")  # 120 × 0.15 + 80 × 0.60 per million


def _prices_in_a_new_process(tmp_path, content):
    path = tmp_path / "prices.json"
    path.write_text(content)
    env = {**os.environ, "LLM_PRICES_FILE": str(path)}
    return subprocess.run(
        [sys.executable, "-c", "import config, json; print(json.dumps(config.Config.LLM_PRICES))"],
        cwd=ROOT_DIR, env=env, capture_output=True, text=True, timeout=60,
    )


def test_llm_prices_file_replaces_the_table(tmp_path):
    table = {"my-model": {"input": 1.5, "output": 3.0, "cached_input": 0.5}}
    done = _prices_in_a_new_process(tmp_path, json.dumps(table))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == table


@pytest.mark.parametrize("content, says", [
    ("{not json", "cannot read it as JSON"),
    ('{"m": {"input": 1}}', "model 'm': missing output"),
    ('{"m": {"input": "cheap", "output": 1}}', "input must be a number"),
    ("[]", "expected a non-empty JSON object"),
])
def test_a_bad_llm_prices_file_stops_the_start_with_one_line(tmp_path, content, says):
    done = _prices_in_a_new_process(tmp_path, content)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "LLM_PRICES_FILE" in lines[0] and says in lines[0], done.stderr
