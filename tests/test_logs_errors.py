"""One error shape on the log routes and API-wide: 404, 405, 413, 415, in JSON, never HTML."""

import pytest
from flask import request


def _assert_error_shape(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    assert "<html" not in response.get_data(as_text=True).lower()


@pytest.mark.parametrize("path", ["/llm-logs/stats/nope", "/llm-logs/my-logs/extra",
                                  "/llm-logs/1/extra"])
def test_a_path_under_llm_logs_that_matches_no_route_is_404_with_or_without_a_token(
    client, auth, path
):
    _, headers = auth.admin()
    _assert_error_shape(client.get(path), 404, "not_found")
    _assert_error_shape(client.get(path, headers=headers), 404, "not_found")


@pytest.mark.parametrize("path", ["/llm-logs/nope", "/llm-logs/-1", "/llm-logs/1.5"])
def test_an_id_that_is_no_integer_is_401_without_a_token_and_404_with_one(client, auth, path):
    # /llm-logs/<id> is an existing route pattern, whatever id it names (SPEC section 4).
    _, headers = auth.admin()
    _assert_error_shape(client.get(path), 401, "unauthorized")
    _assert_error_shape(client.get(path, headers=headers), 404, "not_found")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/llm-logs/", "/llm-logs/my-logs", "/llm-logs/1",
                                  "/llm-logs/stats/top-users"])
def test_log_routes_answer_only_get_and_say_so_in_a_json_405(client, auth, method, path):
    _, headers = auth.admin()
    response = getattr(client, method)(path, headers=headers)
    _assert_error_shape(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_an_unknown_log_is_a_json_404_naming_no_internals(client, auth):
    _, headers = auth.user()
    response = client.get("/llm-logs/123456", headers=headers)
    _assert_error_shape(response, 404, "not_found")


@pytest.fixture
def body_app(config_class):
    """The app plus a route that reads a JSON body, like every POST route does."""
    from webapp import create_app

    app = create_app(config_class)

    @app.post("/echo")
    def echo():
        return {"got": request.get_json()}

    return app


def test_a_body_larger_than_the_limit_is_a_json_413(body_app):
    big = b'{"prompt": "' + b"x" * (body_app.config["MAX_CONTENT_LENGTH"] + 1) + b'"}'
    response = body_app.test_client().post("/echo", data=big, content_type="application/json")
    _assert_error_shape(response, 413, "payload_too_large")


def test_a_body_that_is_not_json_is_a_json_415(body_app):
    response = body_app.test_client().post("/echo", data="prompt=x",
                                           content_type="application/x-www-form-urlencoded")
    _assert_error_shape(response, 415, "unsupported_media_type")


def test_openapi_and_docs_are_public(client):
    assert client.get("/openapi.json").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert docs.mimetype == "text/html"
