"""`flask users create|token|revoke`."""

import re


def _last_line(result):
    return result.stdout.strip().splitlines()[-1]


def test_create_prints_a_token_that_authenticates_the_new_user(runner, client):
    result = runner.invoke(args=["users", "create", "New.User@Example.com"])
    assert result.exit_code == 0
    token = _last_line(result)
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token)
    me = client.get("/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert (me["email"], me["role"]) == ("new.user@example.com", "user")


def test_create_with_admin_makes_an_admin(runner, client):
    token = _last_line(runner.invoke(args=["users", "create", "boss@example.com", "--admin"]))
    me = client.get("/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert me["role"] == "admin"


def test_creating_an_existing_email_fails_without_a_token(runner):
    runner.invoke(args=["users", "create", "twice@example.com"])
    result = runner.invoke(args=["users", "create", "TWICE@example.com"])
    assert result.exit_code != 0
    assert "exists already" in result.output


def test_an_invalid_email_is_refused(runner):
    result = runner.invoke(args=["users", "create", "not-an-email"])
    assert result.exit_code != 0


def test_token_prints_another_working_token_and_keeps_the_old_one(runner, client):
    first = _last_line(runner.invoke(args=["users", "create", "two@example.com"]))
    second = _last_line(runner.invoke(args=["users", "token", "two@example.com"]))
    assert first != second
    for token in (first, second):
        assert client.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_revoke_revokes_every_token_of_the_user(runner, client):
    first = _last_line(runner.invoke(args=["users", "create", "gone@example.com"]))
    second = _last_line(runner.invoke(args=["users", "token", "gone@example.com"]))
    result = runner.invoke(args=["users", "revoke", "gone@example.com"])
    assert result.exit_code == 0
    for token in (first, second):
        assert client.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_token_for_an_unknown_user_fails(runner):
    result = runner.invoke(args=["users", "token", "nobody@example.com"])
    assert result.exit_code != 0
    assert "No user" in result.output


def test_tokens_are_stored_only_as_hashes(runner, app):
    from sqlalchemy import text

    from webapp.extensions import db

    token = _last_line(runner.invoke(args=["users", "create", "hash@example.com"]))
    with app.app_context():
        stored = db.session.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert token not in stored
    assert len(stored) == 1 and len(stored[0]) == 64
