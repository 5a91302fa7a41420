"""Allowed inbound networks: parsing, matching, the client behind trusted proxies, and the
middleware's answers (driven directly through ASGI, no server)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from runyard.api.http import cidr
from runyard.errors import BadRequest
from runyard.settings import Settings


def nets(*items: str) -> tuple[cidr.Network, ...]:
    return tuple(ipaddress.ip_network(i) for i in items)


# parsing -------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("", ()),
    ("  ,, ", ()),
    ("10.0.0.0/8", nets("10.0.0.0/8")),
    ("10.0.0.0/8, 192.168.1.0/24", nets("10.0.0.0/8", "192.168.1.0/24")),
    ("10.0.0.0/8 2001:db8::/32", nets("10.0.0.0/8", "2001:db8::/32")),
    ("203.0.113.7", nets("203.0.113.7/32")),
    ("::1", nets("::1/128")),
    ("10.1.2.3/8", nets("10.0.0.0/8")),  # host bits are dropped, not refused
    ("10.0.0.0/8,10.0.0.0/8", nets("10.0.0.0/8")),  # duplicates once
])
def test_parse_networks(text: str, expected: tuple[cidr.Network, ...]) -> None:
    assert cidr.parse_networks(text) == expected


def test_parse_networks_takes_a_list() -> None:
    assert cidr.parse_networks(["10.0.0.0/8", " ", "::1"]) == nets("10.0.0.0/8", "::1/128")


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "example.com", "10.0.0", "1.2.3.4/x",
                                 "2001:db8::/129", "10.0.0.0/8;rm"])
def test_parse_networks_names_the_bad_item(bad: str) -> None:
    with pytest.raises(BadRequest) as info:
        cidr.parse_networks(f"127.0.0.0/8, {bad}")
    assert repr(bad) in info.value.message


def test_format_round_trips() -> None:
    parsed = cidr.parse_networks("10.0.0.0/8, 2001:db8::/32")
    assert cidr.parse_networks(cidr.format_networks(parsed)) == parsed


# matching ------------------------------------------------------------------------------
@pytest.mark.parametrize(("address", "inside"), [
    ("10.1.2.3", True), ("10.255.255.255", True), ("11.0.0.1", False),
    ("127.0.0.1", False), ("2001:db8::5", True), ("2001:db9::5", False),
    ("::ffff:10.9.9.9", True),  # IPv4-mapped IPv6 is the IPv4 address
    ("[2001:db8::1]", True), ("not-an-ip", False), ("", False), (None, False),
])
def test_contains(address: str | None, inside: bool) -> None:
    assert cidr.contains(nets("10.0.0.0/8", "2001:db8::/32"), address) is inside


def test_empty_list_contains_nothing() -> None:
    assert not cidr.contains((), "10.0.0.1")


# the client behind proxies -------------------------------------------------------------
ALB = nets("172.16.0.0/12")


def test_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    assert cidr.client_address("198.51.100.9", ["10.0.0.1"], ALB) == "198.51.100.9"
    assert cidr.client_address("172.16.0.5", ["10.0.0.1"], ()) == "172.16.0.5"


def test_trusted_proxy_gives_the_rightmost_untrusted_hop() -> None:
    # the client wrote a fake address at the left; the ALB appended the real one
    chain = ["6.6.6.6, 203.0.113.7"]
    assert cidr.client_address("172.16.0.5", chain, ALB) == "203.0.113.7"


def test_chains_of_trusted_proxies_are_skipped() -> None:
    chain = ["203.0.113.7, 172.20.0.1", "172.16.9.9"]
    assert cidr.client_address("172.16.0.5", chain, ALB) == "203.0.113.7"


def test_all_trusted_gives_the_leftmost() -> None:
    assert cidr.client_address("172.16.0.5", ["172.17.0.1, 172.18.0.1"], ALB) == "172.17.0.1"


def test_no_header_keeps_the_peer() -> None:
    assert cidr.client_address("172.16.0.5", [], ALB) == "172.16.0.5"


def test_garbage_in_the_chain_stops_the_walk() -> None:
    assert cidr.client_address("172.16.0.5", ["6.6.6.6, junk, 172.17.0.1"], ALB) == "172.17.0.1"


# the middleware ------------------------------------------------------------------------
@dataclass
class FakeStore:
    saved: dict[str, str] = field(default_factory=dict)

    def saved_settings(self) -> dict[str, str]:
        return dict(self.saved)


@dataclass
class FakeRuntime:
    settings: Settings
    store: FakeStore = field(default_factory=FakeStore)
    ready: bool = True


async def inner_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = json.dumps({"client": scope["client"][0], "scheme": scope["scheme"]}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def call(middleware: cidr.AllowedCidrsMiddleware, path: str, peer: str,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    scope = {"type": "http", "method": "GET", "path": path, "scheme": "http",
             "client": (peer, 40000), "headers": [(k.lower().encode(), v.encode())
                                                   for k, v in (headers or {}).items()]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        await middleware(scope, receive, send)
        if middleware._refresh is not None:
            await middleware._refresh

    asyncio.run(run())
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return status, json.loads(body)


def middleware_for(**settings: Any) -> tuple[cidr.AllowedCidrsMiddleware, FakeRuntime]:
    runtime = FakeRuntime(Settings(**settings))
    return cidr.AllowedCidrsMiddleware(inner_app, runtime), runtime  # type: ignore[arg-type]


def test_everyone_when_nothing_is_set() -> None:
    mw, _ = middleware_for()
    assert call(mw, "/api/v1/viewer", "8.8.8.8") == (200, {"client": "8.8.8.8",
                                                           "scheme": "http"})


def test_outside_gets_403_in_the_error_shape_but_health_stays_open() -> None:
    mw, _ = middleware_for(allowed_cidrs="10.0.0.0/8")
    status, body = call(mw, "/api/v1/viewer", "127.0.0.1")
    assert status == 403
    error = body["errors"][0]
    assert error["extensions"] == {"code": "forbidden", "status": 403}
    assert "127.0.0.1" in error["message"]
    assert call(mw, "/healthz", "127.0.0.1")[0] == 200
    assert call(mw, "/ready", "127.0.0.1")[0] == 200
    assert call(mw, "/api/v1/viewer", "10.20.30.40")[0] == 200


def test_forwarded_for_is_ignored_without_trusted_proxies() -> None:
    mw, _ = middleware_for(allowed_cidrs="10.0.0.0/8")
    status, _ = call(mw, "/", "127.0.0.1", {"X-Forwarded-For": "10.0.0.1"})
    assert status == 403


def test_forwarded_for_from_a_trusted_proxy_decides() -> None:
    mw, _ = middleware_for(allowed_cidrs="10.0.0.0/8", trusted_proxies="127.0.0.0/8")
    status, body = call(mw, "/x", "127.0.0.1",
                        {"X-Forwarded-For": "10.0.0.1", "X-Forwarded-Proto": "https"})
    assert (status, body) == (200, {"client": "10.0.0.1", "scheme": "https"})
    status, body = call(mw, "/x", "127.0.0.1", {"X-Forwarded-For": "10.0.0.1, 8.8.8.8"})
    assert status == 403
    assert "8.8.8.8" in body["errors"][0]["message"]


def test_settings_changed_at_run_time_apply_to_the_next_request() -> None:
    mw, runtime = middleware_for()
    assert call(mw, "/x", "127.0.0.1")[0] == 200
    runtime.settings = runtime.settings.replace(allowed_cidrs="10.0.0.0/8")
    assert call(mw, "/x", "127.0.0.1")[0] == 403


def test_a_value_saved_by_another_replica_is_picked_up() -> None:
    mw, runtime = middleware_for()
    runtime.store.saved["allowed_cidrs"] = "10.0.0.0/8"
    call(mw, "/x", "127.0.0.1")  # starts the re-read (first request)
    assert runtime.settings.allowed_cidrs == "10.0.0.0/8"
    assert call(mw, "/x", "127.0.0.1")[0] == 403


def test_environment_wins_over_saved_values() -> None:
    runtime = FakeRuntime(Settings.load(environ={"RUNYARD_ALLOWED_CIDRS": "127.0.0.0/8"}))
    runtime.store.saved["allowed_cidrs"] = "10.0.0.0/8"
    mw = cidr.AllowedCidrsMiddleware(inner_app, runtime)  # type: ignore[arg-type]
    call(mw, "/x", "127.0.0.1")
    assert runtime.settings.allowed_cidrs == "127.0.0.0/8"
    assert call(mw, "/x", "127.0.0.1")[0] == 200


def test_unreadable_setting_fails_closed() -> None:
    mw, _ = middleware_for(allowed_cidrs="not-a-network")
    assert call(mw, "/x", "127.0.0.1")[0] == 403
