"""``/docs`` works without internet access: every asset comes from the gateway itself."""

from __future__ import annotations

import asyncio
import re

import httpx

from ovn_inject.gateway.app import create_app


def test_the_docs_page_loads_swagger_ui_from_the_gateway_only() -> None:
    # httpx's ASGI transport, as the other in-process gateway tests: Starlette's TestClient warns
    # that it wants another HTTP client package.
    async def check() -> None:
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            page = await client.get("/docs")
            assert page.status_code == 200
            assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
            assert assets and all(a.startswith("/docs/static/") for a in assets), assets
            assert "cdn" not in page.text.lower()
            for asset in assets:
                answer = await client.get(asset)
                assert answer.status_code == 200 and len(answer.content) > 100, asset
            assert "SwaggerUIBundle" in (await client.get("/docs/static/swagger-ui-bundle.js")).text
            assert "/openapi.json" in page.text
            assert (await client.get("/docs/static/..%2Fpyproject.toml")).status_code == 404
            assert (await client.get("/redoc")).status_code == 404

    asyncio.run(check())
