"""HMAC-signed, expiring URLs for uploads and downloads (the client sends no auth there)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote, urlencode

from runyard.errors import Forbidden


class UrlSigner:
    def __init__(self, secret: bytes, ttl_seconds: int) -> None:
        if len(secret) < 32:
            raise ValueError("signing secret must be at least 32 bytes")
        self._secret = secret
        self.ttl = ttl_seconds

    def _mac(self, method: str, key: str, expires: int) -> str:
        message = f"{method.upper()}\n{key}\n{expires}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, method: str, key: str, base_url: str, now: float | None = None) -> str:
        expires = int((now or time.time()) + self.ttl)
        query = urlencode({"exp": expires, "sig": self._mac(method, key, expires)})
        return f"{base_url.rstrip('/')}/storage/{quote(key)}?{query}"

    def verify(self, method: str, key: str, expires: str | None, signature: str | None,
               now: float | None = None) -> None:
        if not expires or not signature or not expires.isdigit():
            raise Forbidden("this link is not signed")
        if int(expires) < (now or time.time()):
            raise Forbidden("this link has expired")
        if not hmac.compare_digest(self._mac(method, key, int(expires)), signature):
            raise Forbidden("this link's signature is not valid")
