"""Start-up preparation: routes built without running any handler, start-up objects frozen."""

from __future__ import annotations

import gc
from pathlib import Path

import httpx
from fastapi import APIRouter, Depends, FastAPI

from runyard.api.http.warmup import finished_serving, prepare_routes, prepare_to_serve
from runyard.app import create_app
from runyard.settings import Settings
from tests import asyncrun


def test_prepare_routes_runs_no_handler_and_no_dependency() -> None:
    calls: list[str] = []

    def dependency() -> str:
        calls.append("dependency")
        return "x"

    app = FastAPI()
    router = APIRouter(prefix="/api")

    @router.get("/item/{name}")
    async def item(name: str, value: str = Depends(dependency)) -> dict[str, str]:
        calls.append("item")
        return {"name": name}

    app.include_router(router)

    @app.get("/{path:path}")
    async def catch_all(path: str) -> dict[str, str]:
        calls.append("catch_all")
        return {}

    asyncrun.run(prepare_routes(app))
    assert calls == []

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/api/item/a")

    assert asyncrun.run(get()).json() == {"name": "a"}
    assert calls == ["dependency", "item"]


def test_prepare_to_serve_freezes_until_finished() -> None:
    asyncrun.run(prepare_to_serve(FastAPI()))
    try:
        assert gc.get_freeze_count() > 0
    finally:
        finished_serving()
    assert gc.get_freeze_count() == 0


def test_the_app_prepares_at_start_and_answers_as_before(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data"), background=False)
    key = "local-" + "w4rmUp" * 7

    async def main() -> tuple[int, int, int]:
        async with app.router.lifespan_context(app):
            frozen = gc.get_freeze_count()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                health = await client.get("/healthz")
                anonymous = await client.get("/api/v1/viewer", auth=("api", key))
            return frozen, health.status_code, anonymous.status_code

    frozen, health, anonymous = asyncrun.run(main())
    assert frozen > 0
    assert gc.get_freeze_count() == 0
    assert health == 200
    assert anonymous == 401
