"""Who is calling, and may they: the client address and the allowed inbound networks.

The client is the socket's peer. Only when that peer is a trusted proxy (setting
``trusted_proxies``, e.g. the VPC range behind an ALB) is ``X-Forwarded-For`` believed: it is
read from the right, skipping trusted proxies, and the first other address is the client
(what a client writes itself at the left end is never taken on trust). The request then
carries that address as ``request.client.host``, and ``X-Forwarded-Proto`` as its scheme.

With ``allowed_cidrs`` set, a request from any other address gets 403 in the one JSON error
shape; ``/healthz`` and ``/ready`` stay open so load balancers can check the server.

``allowed_cidrs`` can be changed from /system-admin. The replica that saves it uses it at
once; other replicas read saved settings again every ``REFRESH_SECONDS``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from collections.abc import Iterable
from typing import Any

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from runyard.errors import BadRequest, error_body
from runyard.runtime import Runtime

log = logging.getLogger("runyard.http")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Paths answered whatever the caller's address: load balancer health checks.
OPEN_PATHS = frozenset({"/healthz", "/ready"})
REFRESH_SECONDS = 15.0


def split_list(text: str | Iterable[str]) -> list[str]:
    """``"a, b c"`` or ``["a", "b"]`` -> the non-empty items."""
    items = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    return [i.strip() for i in items if i.strip()]


def parse_networks(text: str | Iterable[str]) -> tuple[Network, ...]:
    """Comma-separated CIDRs (a bare address is a /32 or /128). BadRequest names the first
    item that is not an IPv4 or IPv6 network."""
    networks: list[Network] = []
    for item in split_list(text):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise BadRequest(f"{item!r} is not an IPv4 or IPv6 network such as 10.0.0.0/8 "
                             "or 2001:db8::/32") from None
    return tuple(dict.fromkeys(networks))


def format_networks(networks: Iterable[Network]) -> str:
    return ",".join(str(n) for n in networks)


def parse_address(text: str | None) -> Address | None:
    """An address, IPv4-mapped IPv6 read as IPv4; None for what is not an address."""
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def contains(networks: Iterable[Network], address: str | Address | None) -> bool:
    parsed = parse_address(address) if isinstance(address, str) or address is None else address
    if parsed is None:
        return False
    return any(parsed.version == n.version and parsed in n for n in networks)


def client_address(peer: str | None, forwarded_for: Iterable[str],
                   trusted: tuple[Network, ...]) -> str | None:
    """The client: ``peer``, or, when the peer is a trusted proxy, the right-most address of
    ``X-Forwarded-For`` (all such headers, in order) that is not a trusted proxy."""
    if not trusted or not contains(trusted, peer):
        return peer
    hops = [h for header in forwarded_for for h in split_list(header)]
    client = peer
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            break  # garbage in the chain: trust nothing to the left of it
        client = str(address)
        if not contains(trusted, address):
            break
    return client


class _Parsed:
    """Parses a setting's text once per distinct value."""

    def __init__(self) -> None:
        self._text: str | None = None
        self._networks: tuple[Network, ...] = ()

    def get(self, text: str) -> tuple[Network, ...]:
        if text != self._text:
            self._networks = parse_networks(text)
            self._text = text
        return self._networks


class AllowedCidrsMiddleware:
    """ASGI middleware: the client address, and 403 outside ``allowed_cidrs``."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self._allowed = _Parsed()
        self._trusted = _Parsed()
        self._next_refresh = 0.0
        self._refresh: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        settings = self.runtime.settings
        peer = scope.get("client")
        peer_host = peer[0] if peer else None
        try:
            trusted = self._trusted.get(settings.trusted_proxies)
            allowed = self._allowed.get(settings.allowed_cidrs)
        except BadRequest as exc:  # validated at start and on save: should not happen
            log.error("refusing requests: unreadable network setting: %s", exc.message)
            await _refuse(scope, send, "the server's network settings are invalid")
            return
        if trusted and contains(trusted, peer_host):
            scope = _forwarded(scope, trusted)
        self._maybe_refresh()
        if allowed and scope.get("path", "") not in OPEN_PATHS:
            client = scope.get("client")
            host = client[0] if client else None
            if not contains(allowed, host):
                await _refuse(scope, send,
                              f"requests from {host or 'an unknown address'} are not allowed "
                              "on this server (allowed_cidrs)")
                return
        await self.app(scope, receive, send)

    def _maybe_refresh(self) -> None:
        """Now and then, pick up allowed_cidrs (and license) saved by another replica."""
        now = time.monotonic()
        if now < self._next_refresh or not self.runtime.ready:
            return
        self._next_refresh = now + REFRESH_SECONDS
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.get_running_loop().create_task(
                self._reload(), name="runyard-saved-settings")

    async def _reload(self) -> None:
        try:
            saved = await anyio.to_thread.run_sync(self.runtime.store.saved_settings)
        except Exception as exc:  # a database hiccup: keep what we have, try again later
            log.warning("could not re-read saved settings: %s", type(exc).__name__)
            return
        settings = self.runtime.settings
        changes: dict[str, Any] = {}
        for name in ("allowed_cidrs", "license"):
            if name in saved and name not in settings.explicit \
                    and saved[name] != getattr(settings, name):
                changes[name] = saved[name]
        if "allowed_cidrs" in changes:
            try:
                parse_networks(changes["allowed_cidrs"])
            except BadRequest:
                del changes["allowed_cidrs"]
        if changes:
            self.runtime.settings = self.runtime.settings.replace(**changes)


def _forwarded(scope: Scope, trusted: tuple[Network, ...]) -> Scope:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    chain = [v.decode("latin-1") for k, v in headers if k == b"x-forwarded-for"]
    protos = [v.decode("latin-1").split(",")[-1].strip().lower()
              for k, v in headers if k == b"x-forwarded-proto"]
    peer = scope.get("client")
    host = client_address(peer[0] if peer else None, chain, trusted)
    scope = dict(scope)
    if host is not None and (peer is None or host != peer[0]):
        scope["client"] = (host, 0)
    if protos and protos[-1] in ("http", "https"):
        secure = protos[-1] == "https"
        scope["scheme"] = ("wss" if secure else "ws") if scope["type"] == "websocket" \
            else protos[-1]
    return scope


async def _refuse(scope: Scope, send: Send, message: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps(error_body(message, "forbidden", 403)).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
