"""``POST /graphql``: authenticated, validated GraphQL over JSON."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from runyard.api.graphql.context import Context
from runyard.api.graphql.executor import GraphQLService
from runyard.api.http.common import CurrentUser, base_url, read_json, runtime_of
from runyard.errors import BadRequest

router = APIRouter(tags=["graphql"])


@router.post("/graphql", include_in_schema=False)
async def graphql_endpoint(request: Request,
                           user: CurrentUser) -> JSONResponse:
    runtime = runtime_of(request)
    payload = await read_json(request, runtime.settings.max_request_bytes)
    query, variables, operation_name = _parse_payload(payload)
    service: GraphQLService = request.app.state.graphql
    context = Context(runtime=runtime, user=user, base_url=base_url(request))
    try:
        body = await anyio.to_thread.run_sync(service.execute, query, variables,
                                              operation_name, context)
    finally:
        for entity, project in context.changed:
            await runtime.project_changed(entity, project)
    return JSONResponse(body)


def _parse_payload(payload: Any) -> tuple[str, dict[str, Any] | None, str | None]:
    if not isinstance(payload, dict):
        raise BadRequest("GraphQL request must be a JSON object")
    query = payload.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("GraphQL request needs a 'query' string")
    variables = payload.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("'variables' must be an object")
    operation_name = payload.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest("'operationName' must be a string")
    # The public API sends operationName "" with a named operation: treat it as absent.
    return query, variables, operation_name or None
