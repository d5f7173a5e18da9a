"""The SECRET_KEY a deployment makes for itself when none is set (webapp.secret_key)."""

import secrets
from types import SimpleNamespace

from webapp import secret_key


def _app(instance_path):
    return SimpleNamespace(config={"SECRET_KEY": ""}, instance_path=str(instance_path))


def test_processes_starting_together_get_the_same_non_empty_key(tmp_path, monkeypatch):
    # A second web worker starts while the first is still making the key file.
    second = _app(tmp_path)
    make_token = secrets.token_hex
    second_started = []

    def token_hex(n):
        if n == 32 and not second_started:
            second_started.append(True)
            secret_key.ensure_secret_key(second)
        return make_token(n)

    monkeypatch.setattr(secret_key.secrets, "token_hex", token_hex)
    first = _app(tmp_path)
    secret_key.ensure_secret_key(first)

    assert len(second.config["SECRET_KEY"]) == 64
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]


def test_a_set_secret_key_is_kept_and_no_file_is_made(tmp_path):
    app = _app(tmp_path)
    app.config["SECRET_KEY"] = "mine"
    secret_key.ensure_secret_key(app)
    assert app.config["SECRET_KEY"] == "mine"
    assert not (tmp_path / "secret_key").exists()
