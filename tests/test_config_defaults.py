"""Settings from the environment (SPEC 3): an unset setting takes its default."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "LLM_MODEL": "gpt-4o-mini",
    "LLM_TIMEOUT_S": 60.0,
    "LLM_MAX_RETRIES": 2,
    "TRUSTED_PROXY_HOPS": 0,
    "JOB_RESEND_AFTER_S": 120.0,
    "WORKER_CONCURRENCY": 200,
    "LOG_REQUEST_DATA": True,
    "RATE_LIMIT_PER_MINUTE": None,
    "DAILY_TOKEN_BUDGET": None,
    "DAILY_COST_BUDGET_USD": None,
}


def _settings_in_a_new_process(env):
    names = json.dumps(list(DEFAULTS))
    code = ("import config, json; "
            f"print(json.dumps({{n: getattr(config.Config, n) for n in {names}}}))")
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT_DIR, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_unset_settings_take_their_defaults():
    env = {key: value for key, value in os.environ.items() if key not in DEFAULTS}
    assert _settings_in_a_new_process(env) == DEFAULTS


def test_a_setting_set_to_the_empty_string_takes_its_default():
    """`LLM_MAX_RETRIES=` (as a compose file or an env file writes an unset one) is unset."""
    env = {**os.environ, **{name: "" for name in DEFAULTS}}
    assert _settings_in_a_new_process(env) == DEFAULTS


def test_an_empty_port_is_gunicorns_default_8000(monkeypatch):
    import runpy

    monkeypatch.setenv("PORT", "")
    monkeypatch.setenv("HOST", "")
    settings = runpy.run_path(str(ROOT_DIR / "gunicorn.conf.py"))
    assert settings["bind"] == ["0.0.0.0:8000"]
