"""Liveness and readiness probes."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from runyard.api.http.common import runtime_of

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """200 while the process lives."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    """200 once the server can serve: started and its database answers."""
    runtime = runtime_of(request)
    ok = runtime.ready and await anyio.to_thread.run_sync(runtime.store.ping)
    body = {"status": "ready" if ok else "starting"}
    return JSONResponse(body, status_code=200 if ok else 503)
