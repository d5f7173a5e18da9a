"""The OpenAPI document describes every route, and the app keeps what it promises."""

import json
import re
from decimal import Decimal

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.failures import Failure
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.log_factories import LlmCallLogFactory, ago

# Routes APIFlask serves itself and leaves out of the document.
UNDOCUMENTED = {"/openapi.json", "/docs", "/docs/oauth2-redirect"}
# Pages for people and their files, not the API: the dashboard, `/` and the /docs assets.
PAGE_BLUEPRINTS = ("dashboard.", "root.", "api_docs.")
# Documented routes that take no user's token: health (SPEC 11) and /metrics (SPEC 14, which
# takes METRICS_TOKEN when it is set).
PUBLIC = {"/healthz", "/readyz", "/metrics"}


@pytest.fixture
def spec(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _routes(app):
    """Every route of the app: its OpenAPI path ({name} for <converter:name>) and methods."""
    for rule in app.url_map.iter_rules():
        if (rule.endpoint == "static" or rule.rule in UNDOCUMENTED
                or rule.endpoint.startswith(PAGE_BLUEPRINTS)):
            continue
        yield re.sub(r"<(?:[^<:>]+:)?([^<>]+)>", r"{\1}", rule.rule), rule.methods


def test_the_document_describes_every_route_and_method(app, spec):
    routes = list(_routes(app))
    assert {path for path, _ in routes} == set(spec["paths"])
    for path, methods in routes:
        documented = {method.upper() for method in spec["paths"][path]}
        assert methods - {"HEAD", "OPTIONS"} <= documented, path


def test_every_route_documents_bearer_auth_and_its_401(spec):
    scheme = spec["components"]["securitySchemes"]["BearerAuth"]
    assert scheme == {"type": "http", "scheme": "bearer"}
    for path, operations in spec["paths"].items():
        if path in PUBLIC:
            continue
        for method, operation in operations.items():
            assert operation.get("security") == [{"BearerAuth": []}], f"{method} {path}"
            assert "401" in operation["responses"], f"{method} {path}"


def test_admin_routes_document_their_403(spec):
    for path in ["/llm-logs/", "/llm-logs/stats/top-users", "/llm-logs/stats/endpoint-latency",
                 "/llm-logs/stats/error-rates", "/llm-logs/stats/costliest",
                 "/llm-logs/stats/slowest", "/llm-logs/stats/by-model",
                 "/llm-logs/stats/revisions"]:
        assert "403" in spec["paths"][path]["get"]["responses"], path


def test_error_responses_are_documented_in_the_one_error_shape(spec):
    schemas = spec["components"]["schemas"]
    assert schemas["HTTPError"]["required"] == ["error"]
    assert schemas["HTTPError"]["properties"]["error"]["required"] == ["code", "message", "details"]
    assert "fields" in schemas["ValidationError"]["properties"]["error"]["properties"]["details"][
        "properties"
    ]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                # /readyz's 503 is its own answer with the failing check named (SPEC 11).
                if status.startswith(("4", "5")) and (path, status) != ("/readyz", "503"):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.rsplit("/", 1)[1] in {"HTTPError", "ValidationError"}, (
                        f"{method} {path} {status}"
                    )
            assert "500" in operation["responses"]
            if "requestBody" in operation:
                assert {"413", "415"} <= set(operation["responses"]), f"{method} {path}"


def test_the_log_routes_document_their_parameters_and_bounds(spec):
    my_logs = {p["name"]: p["schema"]
               for p in spec["paths"]["/llm-logs/my-logs"]["get"]["parameters"]}
    assert set(my_logs) == {"endpoint_name", "llm_operation_type", "success", "days", "limit",
                            "cursor"}
    assert (my_logs["days"]["minimum"], my_logs["days"]["maximum"], my_logs["days"]["default"]) == (
        1, 365, 7
    )
    assert (my_logs["limit"]["minimum"], my_logs["limit"]["maximum"]) == (1, 500)
    admin = {p["name"] for p in spec["paths"]["/llm-logs/"]["get"]["parameters"]}
    assert admin == {"user_id", "endpoint_name", "llm_operation_type", "success", "start_date",
                     "end_date", "limit", "offset", "cursor"}
    top = {p["name"]: p["schema"]
           for p in spec["paths"]["/llm-logs/stats/top-users"]["get"]["parameters"]}
    assert (top["limit"]["maximum"], top["limit"]["default"]) == (100, 10)


# --- schemathesis -------------------------------------------------------------------------

# Bounded and repeatable: this many generated cases per operation and phase, derandomized
# (Hypothesis' fixed seed), plus schemathesis' coverage cases (bounds, types, missing values).
MAX_EXAMPLES = 25

# Input a JSON schema cannot describe: a cursor is valid only if this server issued it for the
# same filters, end_date must not be before start_date, offset must not come with a cursor. A 400
# naming only such fields is the documented answer to such schema-valid input.
CROSS_FIELD_RULES = {"cursor", "start_date", "end_date", "offset"}


@pytest.fixture
def admin_headers(auth, app_ctx):
    """An admin's token (every route is reachable with it) and logs to read, theirs and others'."""
    admin_id, headers = auth.admin()
    for minutes, success in [(1, True), (2, False), (3, True)]:
        LlmCallLogFactory(
            user_id=str(admin_id), timestamp=ago(minutes=minutes), success=success,
            model="gpt-4o-mini", total_tokens=30, cost_usd=Decimal("0.000010"), workout_id=1,
        )
    LlmCallLogFactory(user_id="someone-else", request_data=None, duration_ms=None)
    return headers


def _float_ids(case):
    """Body ids written with a fraction or an exponent (5.0): JSON Schema's `integer` takes
    them, SPEC 4 has them name nothing (a 400 naming the field)."""
    body = case.body if isinstance(case.body, dict) else {}
    return {key for key in ("revision_id",) if isinstance(body.get(key), float)}


def accepts_what_the_document_allows(ctx, response, case):
    """positive_data_acceptance, but a 400 naming only CROSS_FIELD_RULES fields, or ids not
    written as plain integers, is fine."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except Failure:
        if response.status_code == 400:
            fields = set(response.json()["error"]["details"].get("fields", {}))
            if fields and fields <= CROSS_FIELD_RULES | _float_ids(case):
                return None
        raise


def test_the_app_keeps_the_promises_of_its_openapi_document(app, admin_headers):
    """Every operation in the document, fuzzed: no 5xx, and no answer the document does not allow.

    The checks are schemathesis' defaults (server errors, status codes, content types, response
    schemas and headers, rejection of invalid input, auth enforcement, 405 for other methods).
    """
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    # The token is sent with every case below, so schemathesis must not also generate (or omit)
    # an Authorization header of its own; ignored_auth still probes each route without it.
    schema.config.generation.update(with_security_parameters=False)
    hypothesis_settings = settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )

    def check(case):
        case.call_and_validate(
            headers=admin_headers,
            excluded_checks=[positive_data_acceptance],
            additional_checks=[accepts_what_the_document_allows],
        )

    failures, tested = {}, []
    # schemathesis.pytest.from_fixture would do this loop, but it reaches into pytest node ids
    # that pytest 9 no longer has; get_all_tests builds the same per-operation tests.
    for result in get_all_tests(schema=schema, test_func=check, settings=hypothesis_settings,
                                given_kwargs={}):
        operation, run = result.ok()
        tested.append(operation.label)
        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - report them all at the end
            failures[operation.label] = str(exc)
    assert len(tested) == sum(len(ops) for ops in app.test_client().get("/openapi.json")
                              .get_json()["paths"].values())
    assert not failures, "\n\n".join(f"=== {label}\n{text}" for label, text in failures.items())


def test_the_document_is_openapi_3_1_without_nullable(spec):
    assert spec["openapi"].startswith("3.1")
    assert '"nullable"' not in json.dumps(spec)


def test_the_document_names_each_tag_once(spec):
    """OpenAPI 3: each tag name in the list is unique, and every operation's tag is in it."""
    names = [tag["name"] for tag in spec["tags"]]
    assert len(names) == len(set(names)), names
    used = {tag for operations in spec["paths"].values() for operation in operations.values()
            for tag in operation.get("tags", [])}
    assert used <= set(names)


def test_every_authenticated_route_documents_its_503_and_each_retry_after(spec):
    """A route that looks its token up in PostgreSQL answers 503 while it is down (SPEC 9, 11);
    a 429 and a 503 carry Retry-After."""
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if operation.get("security"):
                assert "503" in responses, f"{method} {path}"
            for status in ("429", "503"):
                if status in responses:
                    header = responses[status]["headers"]["Retry-After"]
                    assert header["required"] is True, f"{method} {path} {status}"
                    assert header["schema"]["type"] == "integer"
    for path in ["/llm/create-workout", "/llm/create-training-principles",
                 "/workouts/{workout_id}/revise"]:
        assert "429" in spec["paths"][path]["post"]["responses"], path


def test_the_202_documents_its_location_header(spec):
    for path in ["/llm/create-workout", "/llm/create-training-principles",
                 "/workouts/{workout_id}/revise"]:
        headers = spec["paths"][path]["post"]["responses"]["202"]["headers"]
        assert headers["Location"]["required"] is True, path


def test_the_log_listing_documents_real_bounds(spec):
    params = {p["name"]: p["schema"] for p in spec["paths"]["/llm-logs/"]["get"]["parameters"]}
    assert params["offset"]["maximum"] <= 2 ** 53
    assert params["cursor"]["maxLength"] <= 256 and params["cursor"]["pattern"]
    pattern = re.compile(params["start_date"]["pattern"])
    for good in ["2026-02-28", "2024-02-29", "2026-03-01T23:59:59.5+02:00", "2026-03-01T00:00Z"]:
        assert pattern.search(good), good
    for bad in ["2026-02-30", "2100-02-29", "2026-04-31", "2026-03-01T24:00", "2026-13-01",
                "2026-03-01T10:60"]:
        assert not pattern.search(bad), bad


def test_the_routes_refuse_what_the_document_refuses(client, auth):
    _, headers = auth.admin()
    for query in ["start_date=2026-02-30", "end_date=2026-03-01T24:00", "cursor=" + "a" * 300,
                  "cursor=not*a*cursor", "offset=1000000001"]:
        response = client.get(f"/llm-logs/?{query}", headers=headers)
        assert response.status_code == 400, query
        assert query.split("=")[0] in response.get_json()["error"]["details"]["fields"], query
