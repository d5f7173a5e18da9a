"""Every error is JSON in one shape, never HTML or a traceback."""


def _assert_error_shape(response, status, code):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)


def test_an_unknown_route_is_a_json_404_with_or_without_a_token(client, auth):
    _, headers = auth.user()
    _assert_error_shape(client.get("/no/such/route"), 404, "not_found")
    _assert_error_shape(client.get("/no/such/route", headers=headers), 404, "not_found")


def test_a_wrong_method_is_a_json_405(client):
    _assert_error_shape(client.delete("/me"), 405, "method_not_allowed")


def test_an_unexpected_exception_is_a_json_500_without_a_traceback(config_class, caplog):
    from webapp import create_app

    app = create_app(config_class)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    _assert_error_shape(response, 500, "internal_error")
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert "secret internals" in caplog.text
