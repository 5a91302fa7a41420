"""Serving the web UI (no browser): client routes get index.html, assets are cached for long,
server prefixes are never shadowed, and without a build the root says how to build it.
Also the workspace's filter expressions and sort keys, parsed without a server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from runyard.api.http import errors, web
from runyard.api.http.web import web_router
from runyard.api.v1.workspace import lookup, parse_expression, parse_sort, search_document
from runyard.app import create_app
from runyard.domain.run_filters import parse_filters
from runyard.errors import BadRequest
from runyard.settings import Settings


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=app></div>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    (tmp_path.parent / "secret.txt").write_text("no")
    return tmp_path


class Client:
    """GETs against an ASGI app in this process (no lifespan, no server)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def get(self, path: str) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                return await c.get(path)
        return asyncio.run(go())


def client_for(dist: Path) -> Client:
    app = FastAPI()
    errors.install(app)

    @app.get("/api/v1/thing")
    async def thing() -> dict[str, int]:
        return {"ok": 1}

    app.include_router(web_router(dist))
    return Client(app)


@pytest.mark.parametrize("path", ["/", "/admin", "/admin/demo", "/admin/demo/workspace",
                                  "/admin/demo/runs/abc123", "/admin/demo/runs/abc123/logs",
                                  "/system-admin", "/signin"])
def test_client_routes_get_the_app(dist: Path, path: str) -> None:
    response = client_for(dist).get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert "id=app" in response.text


def test_assets_are_cached_for_a_year_and_cannot_escape(dist: Path) -> None:
    client = client_for(dist)
    response = client.get("/assets/index-abc123.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get("/assets/missing.js").status_code == 404
    assert client.get("/assets/..%2F..%2Fsecret.txt").status_code == 404
    assert client.get("/favicon.svg").text == "<svg/>"


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api", "/graphql", "/files/a/b/c",
                                  "/storage/x", "/sdk/otel/v1", "/healthz/x", "/ready/x"])
def test_server_prefixes_are_not_shadowed(dist: Path, path: str) -> None:
    response = client_for(dist).get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert client_for(dist).get("/api/v1/thing").json() == {"ok": 1}


def test_without_a_build_the_root_says_how_to_build(tmp_path: Path) -> None:
    client = client_for(tmp_path / "not-built")
    for path in ("/", "/admin/demo"):
        response = client.get(path)
        assert response.status_code == 200
        assert "npm ci" in response.text
        assert "npm run build" in response.text


def test_the_app_registers_the_web_ui_last() -> None:
    app = create_app(Settings())
    last = app.routes[-1]
    router = getattr(last, "original_router", last)
    assert router is web.router
    assert [getattr(r, "path", "") for r in web.router.routes][-1] == "/{path:path}"


# filter expressions -------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "document"), [
    ("config.lr < 0.01 and summary.acc > 0.9",
     {"$and": [{"config.lr": {"$lt": 0.01}}, {"summary_metrics.acc": {"$gt": 0.9}}]}),
    ("state = running or tags = best",
     {"$or": [{"state": {"$eq": "running"}}, {"tags": "best"}]}),
    ("not (state in (running, crashed))", {"$nor": [{"state": {"$in": ["running", "crashed"]}}]}),
    ("name ~ '^bert'", {"display_name": {"$regex": "^bert", "$options": "i"}}),
    ("summary.val/loss <= 1e-3", {"summary_metrics.val/loss": {"$lte": 0.001}}),
    ("config.opt.name != \"adam w\"", {"config.opt.name": {"$ne": "adam w"}}),
    ("config.layers = 3 && config.bn = true", {"$and": [{"config.layers": {"$eq": 3}},
                                                        {"config.bn": {"$eq": True}}]}),
    ("created >= 2026-01-01T00:00:00Z", {"created_at": {"$gte": "2026-01-01T00:00:00Z"}}),
    ("`config.a b` exists", {"config.a b": {"$exists": True}}),
    ("id not in [a1, b2]", {"name": {"$nin": ["a1", "b2"]}}),
    ("user contains ali", {"username": {"$regex": "ali", "$options": "i"}}),
    ("summary.loss = NaN", {"summary_metrics.loss": {"$eq": pytest.approx(float("nan"),
                                                                          nan_ok=True)}}),
    ("", None),
])
def test_filter_expressions_become_mongo_filters(text: str, document: object) -> None:
    parsed = parse_expression(text)
    assert parsed == document
    parse_filters(parsed)  # the run-search parser accepts every one


@pytest.mark.parametrize(("text", "message"), [
    ("config.lr <", "expected a value at character 12"),
    ("config.lr < 0.1 and", "expected a field"),
    ("(state = running", "expected ')'"),
    ("lr < 0.1", "unknown field 'lr'"),
    ("state = 'open", "unterminated quote"),
    ("tags > a", "tags support"),
    ("config.lr 0.1", "expected an operator"),
])
def test_bad_expressions_say_where(text: str, message: str) -> None:
    with pytest.raises(BadRequest, match="filter: ") as info:
        parse_expression(text)
    assert message in info.value.message


def test_search_sort_and_lookup() -> None:
    document = search_document("bert.v2")
    assert document is not None
    parse_filters(document)
    assert document["$or"][0]["display_name"]["$regex"] == r"bert\.v2"
    assert parse_sort("-summary.acc").field.source == "summary"
    assert parse_sort("-summary.acc").descending
    assert parse_sort("runtime").field.name == "_runtime"
    assert parse_sort("user").field.name == "username"
    assert parse_sort("config.lr").field.source == "config"
    with pytest.raises(BadRequest):
        parse_sort("tags")
    assert lookup({"a": {"b": 1}, "x.y": 2, "val/loss": 3}, "a.b") == 1
    assert lookup({"a": {"b": 1}, "x.y": 2}, "x.y") == 2
    assert lookup({"val/loss": {"min": 4}}, "val/loss.min") == 4
