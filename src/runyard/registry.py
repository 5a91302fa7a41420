"""Backends chosen by URL scheme. Each factory imports its adapter only when called."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlparse

from runyard.errors import ConfigError
from runyard.queues.base import Queue
from runyard.stores.blobs.base import BlobStore
from runyard.stores.metadata.base import MetadataStore

T = TypeVar("T")


def _sql_store(url: str) -> MetadataStore:
    from runyard.stores.metadata.sql.store import SqlMetadataStore

    return SqlMetadataStore(url)


def _local_blobs(url: str) -> BlobStore:
    from runyard.stores.blobs.local import LocalBlobStore

    return LocalBlobStore(url)


def _internal_queue(url: str, store: MetadataStore) -> Queue:
    from runyard.queues.internal import InternalQueue

    return InternalQueue(store)


METADATA_STORES: dict[str, Callable[[str], MetadataStore]] = {
    "sqlite": _sql_store,
    "mysql+pymysql": _sql_store,
    "postgresql+psycopg": _sql_store,
}
BLOB_STORES: dict[str, Callable[[str], BlobStore]] = {"file": _local_blobs}
QUEUES: dict[str, Callable[[str, MetadataStore], Queue]] = {"internal": _internal_queue}


def _choose(kind: str, registry: dict[str, T], url: str) -> T:
    scheme = urlparse(url).scheme
    factory = registry.get(scheme)
    if factory is None:
        known = ", ".join(f"{s}://" for s in sorted(registry))
        raise ConfigError(f"unknown {kind} URL scheme {scheme + '://'!r}; known: {known}")
    return factory


def metadata_store(url: str) -> MetadataStore:
    return _choose("metadata store", METADATA_STORES, url)(url)


def blob_store(url: str) -> BlobStore:
    return _choose("blob store", BLOB_STORES, url)(url)


def queue(url: str, store: MetadataStore) -> Queue:
    """The queue for ``url``; the embedded one keeps its messages in ``store``."""
    return _choose("queue", QUEUES, url)(url, store)
