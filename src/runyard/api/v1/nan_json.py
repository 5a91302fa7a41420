"""JSON responses that keep NaN and +/-Infinity, as the client logged them."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse


class NanJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=True,
                          separators=(",", ":")).encode("utf-8")
