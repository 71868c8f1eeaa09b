"""schemas/ductape-openapi.yaml against the real server: coverage, real answers, and fuzzing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from jsonschema import Draft202012Validator
from schemathesis.core.failures import FailureGroup
from starlette.routing import Route

from reconciler.server import create_app
from reconciler.targets.local import Store
from testing.process import ROOT
from testing.server import RunningServer

SPEC = ROOT / "schemas" / "ductape-openapi.yaml"
PRODUCTS = "/integrations/integrations/v1"


def spec() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return data


@pytest.mark.slow
def test_the_spec_is_openapi_3_1_with_valid_schemas() -> None:
    data = spec()
    assert data["openapi"].startswith("3.1.")
    for schema in data["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    loaded = schemathesis.openapi.from_path(str(SPEC))
    results = list(loaded.get_all_operations())
    assert len(results) == 9
    assert all(type(result).__name__ == "Ok" for result in results)


def test_the_spec_covers_every_served_route(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "routes.db"))
    try:
        app = create_app(store)
    finally:
        store.close()
    served = {
        (method.lower(), route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {(m, path) for path, item in spec()["paths"].items() for m in item}
    assert served == documented


@pytest.fixture
def loaded_spec() -> Any:
    return schemathesis.openapi.from_path(str(SPEC))


@pytest.mark.slow
def test_real_answers_match_the_spec(
    ductape_server: RunningServer, authed: httpx.Client, loaded_spec: Any
) -> None:
    """Every operation, on its success path and its usual failures, validated by the spec."""
    s = ductape_server
    ids = {"user_id": s.user_id, "workspace_id": s.workspace_id}
    job = {
        "component": "job",
        "tag": "spec_check",
        "name": "Spec check",
        "event_type": "action",
        "event_tag": "stripe:list_charges",
        "intervals": "1d",
        "start_at": 1_796_083_200_000,
        **ids,
    }
    app_id = authed.get(f"/apps/apps/v1/access/{s.workspace_id}/stripe").json()["data"]["_id"]
    calls: list[tuple[str, str, str, dict[str, Any], int]] = [
        ("POST", "/users/users/v1/login/authKey", "/users/users/v1/login/authKey",
         {"json": {**ids, "private_key": s.private_key}}, 201),
        ("POST", "/users/users/v1/login/authKey", "/users/users/v1/login/authKey",
         {"json": {**ids, "private_key": "wrong"}}, 401),
        ("POST", "/apps/apps/v1/builder/validate", "/apps/apps/v1/builder/validate",
         {"json": {**ids, "public_key": s.public_key}}, 404),
        ("POST", "/apps/apps/v1/builder", "/apps/apps/v1/builder", {"json": ids}, 200),
        ("POST", "/apps/apps/v1/builder/validate", "/apps/apps/v1/builder/validate",
         {"json": {**ids, "public_key": s.public_key}}, 200),
        ("POST", "/apps/apps/v1/builder/validate", "/apps/apps/v1/builder/validate",
         {"json": {**ids, "public_key": "x"}}, 404),
        ("GET", "/apps/apps/v1/access/{workspace_id}/{access_tag}",
         f"/apps/apps/v1/access/{s.workspace_id}/stripe", {}, 200),
        ("GET", "/apps/apps/v1/{app_id}", f"/apps/apps/v1/{app_id}", {}, 200),
        ("GET", "/apps/apps/v1/{app_id}", f"/apps/apps/v1/{'0' * 24}", {}, 404),
        ("GET", "/workspaces/workspaces/v1/get/{workspace_id}",
         f"/workspaces/workspaces/v1/get/{s.workspace_id}", {"params": ids}, 200),
        ("GET", "/workspaces/workspaces/v1/get/{workspace_id}",
         f"/workspaces/workspaces/v1/get/{'0' * 24}", {}, 403),
        ("GET", f"{PRODUCTS}/workspace/{{workspace_id}}/{{status}}",
         f"{PRODUCTS}/workspace/{s.workspace_id}/all", {}, 200),
        ("GET", f"{PRODUCTS}/{{product_id}}", f"{PRODUCTS}/{s.product_id}", {}, 200),
        ("PUT", f"{PRODUCTS}/{{product_id}}", f"{PRODUCTS}/{s.product_id}", {"json": job}, 200),
        ("PUT", f"{PRODUCTS}/{{product_id}}", f"{PRODUCTS}/{s.product_id}", {"json": job}, 422),
        ("PUT", f"{PRODUCTS}/{{product_id}}", f"{PRODUCTS}/{s.product_id}",
         {"content": b"{", "headers": {"Content-Type": "application/json"}}, 400),
    ]  # fmt: skip
    for method, template, url, options, status in calls:
        response = authed.request(method, url, **options)
        assert response.status_code == status, (method, url, response.text)
        operation = loaded_spec[template][method]
        assert operation.validate_response(response) is not False, (method, url)
    # The validation is not vacuous: a wrong envelope is refused.
    bad = httpx.Response(200, json={"status": True, "data": {}}, request=response.request)
    bad.elapsed = timedelta(0)
    with pytest.raises(FailureGroup) as refused:
        loaded_spec[f"{PRODUCTS}/{{product_id}}"]["GET"].validate_response(bad)
    assert "violates schema" in str(refused.getrepr())


# Schemathesis' own pytest wiring (from_fixture) breaks on pytest 9, so hypothesis is driven
# here directly: one test per operation, a few derandomised examples each.
OPERATIONS = [(method.upper(), path) for path, item in spec()["paths"].items() for method in item]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
@pytest.mark.slow
def test_generated_requests_get_documented_answers(
    ductape_server: RunningServer, token: str, method: str, path: str
) -> None:
    """Generated requests: never a 500, a documented status, the envelope's schema."""
    loaded = schemathesis.openapi.from_path(str(SPEC))
    loaded.config.update(
        base_url=ductape_server.base_url, headers={"Authorization": f"Bearer {token}"}
    )
    operation = loaded[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=10,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        with requests.Session() as session:
            response = case.call_and_validate(session=session)
        statuses.append(response.status_code)

    statuses: list[int] = []
    check()
    assert statuses, "no request was generated"
    assert all(status < 500 for status in statuses)
