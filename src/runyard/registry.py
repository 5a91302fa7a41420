"""Backends chosen by URL scheme. Each factory imports its adapter only when called."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlparse

from runyard.cache.base import Cache
from runyard.errors import ConfigError
from runyard.queues.base import Queue
from runyard.settings import Settings
from runyard.stores.blobs.base import BlobStore
from runyard.stores.metadata.base import MetadataStore

T = TypeVar("T")


def _sql_store(url: str, password_secret: str = "", region: str = "") -> MetadataStore:
    from runyard.stores.metadata.sql.credentials import SecretsManagerPassword
    from runyard.stores.metadata.sql.store import SqlMetadataStore

    password = SecretsManagerPassword(password_secret, region) if password_secret else None
    return SqlMetadataStore(url, password=password)


def _local_blobs(settings: Settings) -> BlobStore:
    from runyard.stores.blobs.local import LocalBlobStore

    return LocalBlobStore(settings.resolved_blob_store_url)


def _s3_blobs(settings: Settings) -> BlobStore:
    from runyard.stores.blobs.s3 import S3BlobStore

    return S3BlobStore(settings)


def _internal_queue(url: str, store: MetadataStore, settings: Settings) -> Queue:
    from runyard.queues.internal import InternalQueue

    return InternalQueue(store)


def _sqs_queue(url: str, store: MetadataStore, settings: Settings) -> Queue:
    from runyard.queues.sqs import SqsQueue

    # With SSE-KMS (ours, or the bucket's default) an S3 ETag is not the content's MD5.
    return SqsQueue(url, store, region=settings.blob_store_region,
                    etag_md5=not settings.blob_store_kms_key)


METADATA_STORES: dict[str, Callable[..., MetadataStore]] = {
    scheme: _sql_store
    for scheme in ("sqlite", "mysql", "mysql+pymysql", "mariadb", "postgres", "postgresql",
                   "postgresql+psycopg")
}
BLOB_STORES: dict[str, Callable[[Settings], BlobStore]] = {"file": _local_blobs, "s3": _s3_blobs}
QUEUES: dict[str, Callable[[str, MetadataStore, Settings], Queue]] = {
    "internal": _internal_queue,
    "sqs": _sqs_queue,
}


def _choose(kind: str, registry: dict[str, T], url: str) -> T:
    scheme = urlparse(url).scheme
    factory = registry.get(scheme)
    if factory is None:
        known = ", ".join(f"{s}://" for s in sorted(registry))
        raise ConfigError(f"unknown {kind} URL scheme {scheme + '://'!r}; known: {known}")
    return factory


def metadata_store(url: str, *, password_secret: str = "", region: str = "") -> MetadataStore:
    return _choose("metadata store", METADATA_STORES, url)(url, password_secret, region)


def cache(url: str) -> Cache:
    """The cache for ``url`` (memory://, redis://, rediss://); see runyard.cache."""
    from runyard.cache import cache_from_url

    return cache_from_url(url)


def metadata_store_for(settings: Settings) -> MetadataStore:
    return metadata_store(settings.resolved_database_url,
                          password_secret=settings.database_password_secret,
                          region=settings.blob_store_region)


def blob_store(settings: Settings) -> BlobStore:
    """The blob store the settings name (URL, region, KMS key, endpoint)."""
    return _choose("blob store", BLOB_STORES, settings.resolved_blob_store_url)(settings)


def queue(url: str, store: MetadataStore, settings: Settings | None = None) -> Queue:
    """The queue for ``url``; the embedded one keeps its messages in ``store``; SQS takes
    its region (and whether ETags are MD5s) from ``settings``."""
    return _choose("queue", QUEUES, url)(url, store, settings or Settings())
