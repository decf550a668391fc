"""Every answer carries its request id, FastAPI's own 500 included (our layers run in front of it)."""

from __future__ import annotations

import asyncio

import httpx

from ovn_inject.gateway.app import create_app


def test_fastapis_own_500_carries_a_request_id() -> None:
    app = create_app()

    @app.get("/boom", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("a bug in a route")

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            return await http.get("/boom")

    response = asyncio.run(get())
    assert response.status_code == 500
    assert len(response.headers.get("x-request-id", "")) == 32
