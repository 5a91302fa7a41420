"""Who is asking, and what this server offers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runyard.api.graphql.views import EntityView, Info, UserView, ctx_of

#: Advertising no optional feature keeps the client on its smallest, most stable protocol.
SERVER_FEATURES: list[dict[str, Any]] = []


def viewer(_root: Any, info: Info) -> UserView:
    return UserView(ctx_of(info).user)


def server_info(_root: Any, info: Info) -> dict[str, Any]:
    return {
        "features": SERVER_FEATURES,
        "cliVersionInfo": {},
        "latestLocalVersionInfo": None,
        "availableBucketProviders": [],
        "isGoogleIap": False,
    }


def entity(_root: Any, info: Info, name: str) -> EntityView | None:
    context = ctx_of(info)
    if not context.can_access(name) or not context.runtime.store.entity_exists(name):
        return None
    return EntityView(name)


RESOLVERS: dict[str, Callable[..., Any]] = {
    "Query.viewer": viewer,
    "Query.serverInfo": server_info,
    "Query.entity": entity,
}
