"""``/docs`` works without internet access: every asset comes from the gateway itself."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from ovn_inject.gateway.app import create_app


def test_the_docs_page_loads_swagger_ui_from_the_gateway_only() -> None:
    client = TestClient(create_app())
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert assets and all(a.startswith("/docs/static/") for a in assets), assets
    assert "cdn" not in page.text.lower()
    for asset in assets:
        answer = client.get(asset)
        assert answer.status_code == 200 and len(answer.content) > 100, asset
    assert "SwaggerUIBundle" in client.get("/docs/static/swagger-ui-bundle.js").text
    assert "/openapi.json" in page.text
    assert client.get("/docs/static/..%2Fpyproject.toml").status_code == 404
    assert client.get("/redoc").status_code == 404
