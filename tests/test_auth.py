"""Bearer tokens, roles and the 401/403 answers."""

import pytest

from webapp.auth import admin_required


def test_me_answers_the_callers_id_email_and_role(client, auth):
    user_id, headers = auth.user("me@example.com")
    response = client.get("/me", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"id": str(user_id), "email": "me@example.com", "role": "user"}


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer unknown-token",
     "Bearer " + "x" * 5000],
)
def test_missing_malformed_or_unknown_tokens_are_401_in_the_error_shape(client, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.get("/me", headers=headers)
    assert response.status_code == 401
    assert response.is_json
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_bearer_scheme_is_case_insensitive(client, auth):
    _, headers = auth.user()
    token = headers["Authorization"].split()[1]
    assert client.get("/me", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_a_revoked_token_is_401(client, auth, runner):
    _, headers = auth.user("revoked@example.com")
    assert client.get("/me", headers=headers).status_code == 200
    runner.invoke(args=["users", "revoke", "revoked@example.com"])
    assert client.get("/me", headers=headers).status_code == 401


@pytest.fixture
def admin_app(config_class):
    from webapp import create_app

    app = create_app(config_class)

    @app.get("/admin-only")
    @admin_required
    def admin_only():
        return {"ok": True}

    return app


def test_a_user_on_an_admin_route_is_403(admin_app, auth):
    _, headers = auth.user()
    response = admin_app.test_client().get("/admin-only", headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_an_admin_on_an_admin_route_passes(admin_app, auth):
    _, headers = auth.admin()
    assert admin_app.test_client().get("/admin-only", headers=headers).status_code == 200


def test_no_token_on_an_admin_route_is_401_not_403(admin_app):
    assert admin_app.test_client().get("/admin-only").status_code == 401
