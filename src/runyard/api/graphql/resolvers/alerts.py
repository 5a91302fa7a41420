"""``run.alert()``: NotifyScriptableRunAlert stores the alert on its run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runyard.api.graphql.views import Info, ctx_of
from runyard.errors import BadRequest

SEVERITIES = ("INFO", "WARN", "ERROR")


def notify_scriptable_run_alert(_root: Any, info: Info,
                                input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    context = ctx_of(info)
    run = context.run(input["entityName"], input["projectName"], input["runName"])
    severity = str(input.get("severity") or "INFO")
    if severity not in SEVERITIES:
        raise BadRequest(f"severity must be one of {', '.join(SEVERITIES)}")
    title = str(input["title"])[:255]
    context.runtime.store.add_alert(run.id, title, str(input["text"]), severity)
    return {"success": True}


RESOLVERS: dict[str, Callable[..., Any]] = {
    "Mutation.notifyScriptableRunAlert": notify_scriptable_run_alert,
}
