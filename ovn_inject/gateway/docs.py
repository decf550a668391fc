"""``/docs``: Swagger UI served from the installed ``swagger-ui-bundle``, never from a CDN.

An operator's browser on a management network without internet access must
still see the API; FastAPI's default page loads its script and style from a
public CDN and stays blank there.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

STATIC = "/docs/static"
#: The files of the bundle the page needs, and their media types.
FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


def bundle_dir() -> Path:
    """The directory of Swagger UI's files in the installed swagger-ui-bundle package."""
    import swagger_ui_bundle

    return Path(str(swagger_ui_bundle.swagger_ui_path))


def add_docs(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC}/favicon-32x32.png",
        )

    @app.get(STATIC + "/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        if name not in FILES:
            raise HTTPException(404, f"no file {name} in the docs' assets")
        return FileResponse(bundle_dir() / name, media_type=FILES[name])
