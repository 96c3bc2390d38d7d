"""The OpenAPI document is served, and it describes exactly the routes the worker serves."""

from __future__ import annotations

import re
from pathlib import Path

from slaengine.http.openapi import openapi_document

from .apiserver import build_api

REPO = Path(__file__).resolve().parents[2]


def served_routes(tmp_path: Path) -> set[tuple[str, str]]:
    app, router, incident_log = build_api(tmp_path)
    incident_log.close()
    router.outbox.close()
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method not in ("HEAD", "*")
    }


def test_every_route_is_documented_and_every_documented_route_is_served(tmp_path: Path) -> None:
    documented = {
        (method, path) for path, item in openapi_document()["paths"].items() for method in item
    }
    assert served_routes(tmp_path) == documented


def test_every_operation_documents_its_errors_and_parameters() -> None:
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            assert (
                "200" in operation["responses"]
                or "201" in operation["responses"]
                or "202" in operation["responses"]
            ), (method, path)
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert names == set(re.findall(r"{(\w+)}", path)), (method, path)


async def test_the_document_is_served(aiohttp_client, tmp_path: Path) -> None:
    app, router, incident_log = build_api(tmp_path)
    client = await aiohttp_client(app)
    try:
        response = await client.get("/api/openapi.json")
        assert response.status == 200
        document = await response.json()
        assert document == openapi_document()
        assert document["openapi"].startswith("3.")
    finally:
        await router.close()
        incident_log.close()


def test_the_docs_point_to_the_document() -> None:
    assert "/api/openapi.json" in (REPO / "docs/operations.md").read_text()
