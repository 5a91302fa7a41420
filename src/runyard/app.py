"""The ASGI application factory: thin wiring of routers around a Runtime."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from starlette.routing import Route

from runyard import __version__
from runyard.api.graphql.endpoint import router as graphql_router
from runyard.api.graphql.executor import GraphQLService
from runyard.api.http import errors
from runyard.api.http.cidr import AllowedCidrsMiddleware
from runyard.api.http.filestream import router as filestream_router
from runyard.api.http.health import router as health_router
from runyard.api.http.storage import router as storage_router
from runyard.api.http.warmup import finished_serving, prepare_to_serve
from runyard.api.http.web import router as web_router
from runyard.api.v1.artifacts import router as artifacts_router
from runyard.api.v1.charts import PATH as CHARTS_PATH
from runyard.api.v1.charts import fast_chart_series
from runyard.api.v1.charts import router as charts_router
from runyard.api.v1.routes import router as v1_router
from runyard.api.v1.sessions import router as sessions_router
from runyard.api.v1.system_admin import router as system_admin_router
from runyard.api.v1.users import router as users_router
from runyard.api.v1.workspace import router as workspace_router
from runyard.runtime import Runtime
from runyard.settings import Settings


def create_app(settings: Settings, *, background: bool = True) -> FastAPI:
    runtime = Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        new_key = await runtime.start(background=background)
        await prepare_to_serve(app)
        if new_key:
            # Shown once, on the console only; it is stored hashed and never logged.
            print(f"Created user 'admin'. Its API key (shown once): {new_key}",
                  file=sys.stdout, flush=True)
        try:
            yield
        finally:
            await runtime.stop()
            finished_serving()

    app = FastAPI(
        title="Runyard",
        version=__version__,
        summary="Self-hosted experiment tracking for the unmodified wandb client.",
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.graphql = GraphQLService()
    errors.install(app)
    app.add_middleware(AllowedCidrsMiddleware, runtime=runtime)
    app.include_router(health_router)
    app.include_router(graphql_router)
    app.include_router(filestream_router)
    app.include_router(storage_router)
    app.include_router(v1_router)
    app.include_router(charts_router)
    app.include_router(system_admin_router)
    app.include_router(users_router)
    app.include_router(sessions_router)
    app.include_router(workspace_router)
    app.include_router(artifacts_router)

    @app.post("/sdk/otel/{path:path}", include_in_schema=False)
    async def no_telemetry(path: str, request: Request) -> Response:
        """404 turns the client's telemetry export off for the process."""
        return Response(status_code=404)

    app.include_router(web_router)  # last: its catch-all serves the web UI's client routes
    # Charts are asked for many times a second by an open workspace and mostly answered from
    # the cache: matched first, as a plain route, they skip FastAPI's per-request routing and
    # dependency work (the charts router's route documents the API).
    app.router.routes.insert(0, Route(CHARTS_PATH, fast_chart_series, methods=["GET"]))
    return app
