"""Render every error as the one JSON shape; 5xx never carries internals."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from runyard.errors import RunyardError, error_body

log = logging.getLogger("runyard.http")

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "bad_request"}


def install(app: FastAPI) -> None:
    @app.exception_handler(RunyardError)
    async def _runyard_error(request: Request, exc: RunyardError) -> JSONResponse:
        if exc.status_code >= 500:
            return _internal(request, exc, exc.status_code, exc.code, exc.message)
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers())

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
            for err in exc.errors()
        )
        return JSONResponse(error_body(f"invalid request: {problems}", "bad_request", 400),
                            status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        status = 400 if exc.status_code == 422 else exc.status_code
        return JSONResponse(error_body(message, code, status), status_code=status,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _internal(request, exc, 500, "internal_error", "internal server error")


def _internal(request: Request, exc: Exception, status: int, code: str,
              message: str) -> JSONResponse:
    incident = uuid.uuid4().hex[:12]
    log.error("incident %s: %s %s failed", incident, request.method, request.url.path,
              exc_info=exc)
    return JSONResponse(error_body(f"{message} (incident {incident})", code, status),
                        status_code=status)
