"""Zstandard compression for history payloads, with one compressor per thread.

Compressor and decompressor objects hold native state and are not thread-safe, and making
one per call costs more than compressing a small payload, so each thread keeps its own.
"""

from __future__ import annotations

import threading

import zstandard

_local = threading.local()


def compress(data: bytes, level: int = 1) -> bytes:
    compressors: dict[int, zstandard.ZstdCompressor] | None = getattr(
        _local, "compressors", None)
    if compressors is None:
        compressors = _local.compressors = {}
    compressor = compressors.get(level)
    if compressor is None:
        compressor = compressors[level] = zstandard.ZstdCompressor(level=level)
    return compressor.compress(data)


def decompress(data: bytes | memoryview) -> bytes:
    decompressor: zstandard.ZstdDecompressor | None = getattr(_local, "decompressor", None)
    if decompressor is None:
        decompressor = _local.decompressor = zstandard.ZstdDecompressor()
    try:
        return decompressor.decompress(data)
    except zstandard.ZstdError as exc:
        raise ValueError(f"corrupt compressed history data: {exc}") from None
