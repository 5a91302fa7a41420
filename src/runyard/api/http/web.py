"""The web UI: the single-page app built from ``web/`` into ``runyard/web_dist``.

``/assets/*`` are content-hashed files, cached for a year. Every other GET that no API route
answered and that is not under a server prefix (``/api``, ``/graphql``, ``/files``, ...) is a
client route (``/``, ``/{entity}/{project}``, ``/{entity}/{project}/runs/{run}``,
``/system-admin``) and gets ``index.html``, which the browser revalidates on every load.
Without a build, those routes answer a short page that says how to build it.

This router must be included last: its catch-all would otherwise shadow later routes.
"""

from __future__ import annotations

import html
import mimetypes
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from runyard.errors import NotFound

DIST = Path(__file__).resolve().parent.parent.parent / "web_dist"
#: First path segments that belong to the server, never to the web UI.
RESERVED = frozenset({"api", "graphql", "graphql2", "files", "storage", "healthz", "ready",
                      "sdk", "assets", "metrics", "docs", "openapi.json"})
LONG_CACHE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
#: Files at the root of the build that are served as they are (favicon and the like).
ROOT_FILES = frozenset({"favicon.svg", "favicon.ico", "robots.txt"})

MISSING_BUILD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Runyard</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:4rem auto;
padding:0 1rem}}code,pre{{background:#f2f2f2;padding:.1rem .3rem;border-radius:4px}}</style>
</head><body>
<h1>Runyard is running, but its web UI is not built</h1>
<p>The server and its API work (<a href="/api/v1/docs">/api/v1/docs</a>); the browser app
has not been built into <code>{dist}</code>.</p>
<p>Build it from the repository with Node.js 18 or newer:</p>
<pre>scripts/setup            # builds web/ when npm is available
# or by hand:
cd web &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p>then reload this page.</p>
</body></html>
"""


def web_router(dist: Path = DIST) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    assets = dist / "assets"

    @router.get("/assets/{name:path}")
    async def asset(name: str) -> Response:
        target = _inside(assets, name)
        if target is None:
            raise NotFound(f"no asset {name!r}")
        media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return FileResponse(target, media_type=media_type,
                            headers={"Cache-Control": LONG_CACHE})

    @router.get("/")
    async def home() -> Response:
        return _index(dist)

    @router.get("/{path:path}")
    async def client_route(path: str) -> Response:
        first = path.split("/", 1)[0]
        if first in RESERVED:
            raise NotFound(f"no route /{path}")
        if path in ROOT_FILES:
            target = _inside(dist, path)
            if target is None:
                raise NotFound(f"no file /{path}")
            return FileResponse(target, headers={"Cache-Control": "public, max-age=86400"})
        return _index(dist)

    return router


def _inside(root: Path, name: str) -> Path | None:
    """``root/name`` when it is an existing file inside ``root`` (no ``..`` escapes)."""
    if not name or "\x00" in name:
        return None
    try:
        base = root.resolve(strict=True)
        target = (base / name).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if base not in target.parents or not target.is_file():
        return None
    return target


def _index(dist: Path) -> Response:
    index = dist / "index.html"
    if not index.is_file():
        return HTMLResponse(MISSING_BUILD.format(dist=html.escape(str(dist))),
                            headers={"Cache-Control": NO_CACHE})
    return FileResponse(index, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": NO_CACHE})


router = web_router()
