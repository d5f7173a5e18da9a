"""The CLI and `make run` as a newcomer meets them: the database found, or one line saying
what to set; a taken port refused at once."""

import json
import os
import socket
import subprocess
import sys
import uuid

from scripts.services import ROOT


def _env(**changes):
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(FLASK_APP="wsgi", **changes)
    return env


def _flask(*args, env):
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_flask_commands_find_the_database_make_run_wrote_down(app, tmp_path):
    urls = tmp_path / "run-urls.json"
    urls.write_text(json.dumps({"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                                "REDIS_URL": app.config["REDIS_URL"]}))
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    result = _flask("users", "create", email, env=_env(RUN_URLS_FILE=str(urls),
                                                       METRICS_DIR=str(tmp_path / "m")))
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()[-1]) >= 20  # the bare token


def test_a_database_that_cannot_be_reached_is_one_line_saying_what_to_set(tmp_path):
    result = _flask("users", "create", "a@example.com",
                    env=_env(DATABASE_URL="postgresql://postgres@127.0.0.1:1/nothing",
                             METRICS_DIR=str(tmp_path / "m")))
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "DATABASE_URL" in lines[0] and "127.0.0.1:1" in lines[0]
    assert "Traceback" not in result.stderr


def test_make_run_refuses_a_taken_port_at_once(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "scripts.run"], cwd=ROOT, timeout=30,
                                env=_env(PORT=str(port), DATABASE_URL="postgresql://x@127.0.0.1:1/x",
                                         REDIS_URL="redis://127.0.0.1:1/0"),
                                capture_output=True, text=True)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(port) in lines[0], result.stderr
    assert "The service runs on" not in result.stdout
