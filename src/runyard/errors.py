"""One error hierarchy and one JSON error shape for every endpoint.

The body of every error response is GraphQL-shaped so that the wandb client, which reads
``errors[0].message``, shows our message verbatim::

    {"errors": [{"message": "...", "extensions": {"code": "not_found", "status": 404}}]}
"""

from __future__ import annotations

from typing import Any


class RunyardError(Exception):
    """Base class. ``status_code`` and ``code`` are class-level; ``message`` is for people."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str = "internal server error") -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.code, self.status_code)

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(RunyardError):
    status_code = 400
    code = "bad_request"


class Unauthorized(RunyardError):
    status_code = 401
    code = "unauthorized"


class Forbidden(RunyardError):
    status_code = 403
    code = "forbidden"


class NotFound(RunyardError):
    status_code = 404
    code = "not_found"


class Conflict(RunyardError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(RunyardError):
    status_code = 413
    code = "payload_too_large"


class RangeNotSatisfiable(RunyardError):
    status_code = 416
    code = "range_not_satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__(f"the requested range is outside the file's {size} bytes")
        self.size = size

    def headers(self) -> dict[str, str]:
        return {"Content-Range": f"bytes */{self.size}"}


class Unavailable(RunyardError):
    """A backend (database, blob store, queue) cannot be reached right now."""

    status_code = 503
    code = "unavailable"


class ConfigError(RunyardError):
    """Settings that cannot work; raised at startup, never at request time."""

    code = "config_error"


def error_body(message: str, code: str, status: int) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code, "status": status}}]}
