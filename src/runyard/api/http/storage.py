"""``/storage/{key}``: signed PUT and GET for blob stores that Runyard serves itself.

The client sends no auth header on uploads and downloads; the URL's HMAC signature and
expiry authorize the request. A finished upload publishes an object-created notification,
as S3 does to SQS, and the consumer records the file's size and checksum.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from runyard.api.http.common import runtime_of
from runyard.errors import NotFound, RangeNotSatisfiable
from runyard.queues.base import ObjectCreated
from runyard.stores.keys import check_key

router = APIRouter(tags=["storage"])


@router.put("/storage/{key:path}", include_in_schema=False)
async def put_blob(key: str, request: Request) -> Response:
    runtime = runtime_of(request)
    check_key(key)
    runtime.require_signer().verify("PUT", key, request.query_params.get("exp"),
                                    request.query_params.get("sig"))
    info = await runtime.blobs.put(key, request.stream(),
                                   max_bytes=runtime.settings.max_upload_bytes)
    await runtime.queue.publish(ObjectCreated(info.key, info.size, info.md5))
    return Response(status_code=200, headers={"ETag": f'"{info.md5}"'})


@router.get("/storage/{key:path}", include_in_schema=False)
async def get_blob(key: str, request: Request) -> StreamingResponse:
    runtime = runtime_of(request)
    check_key(key)
    runtime.require_signer().verify("GET", key, request.query_params.get("exp"),
                                    request.query_params.get("sig"))
    info = await runtime.blobs.stat(key)
    if info is None:
        raise NotFound("no such file")
    wanted = byte_range(request.headers.get("range"), info.size)
    if wanted is None:
        chunks = await runtime.blobs.get(key)
        return StreamingResponse(chunks, media_type="application/octet-stream",
                                 headers={"Content-Length": str(info.size),
                                          "Accept-Ranges": "bytes"})
    start, end = wanted
    chunks = await runtime.blobs.get(key, start=start, end=end)
    return StreamingResponse(chunks, status_code=206, media_type="application/octet-stream",
                             headers={"Content-Length": str(end - start),
                                      "Content-Range": f"bytes {start}-{end - 1}/{info.size}",
                                      "Accept-Ranges": "bytes"})


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, end)`` of a single ``Range: bytes=...`` header; None to send everything.

    Several ranges are answered with the whole blob (allowed by RFC 9110); a range that
    cannot be satisfied is a 416.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isdigit() or last.isdigit()):
        return None
    if first.isdigit():
        start = int(first)
        end = min(int(last) + 1, size) if last.isdigit() else size
    else:  # the last N bytes
        start, end = max(0, size - int(last)), size
    if start >= size or start >= end:
        raise RangeNotSatisfiable(size)
    return start, end
