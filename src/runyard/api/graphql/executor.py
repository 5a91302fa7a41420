"""Load the SDL, bind resolvers and scalars, and execute requests with validation.

Parsed and validated documents are cached by query text: the client sends the same few
texts over and over.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from functools import lru_cache
from importlib import resources
from threading import Lock
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    execute,
    parse,
    validate,
)

from runyard.api.graphql.context import Context
from runyard.api.graphql.fast_fields import FastFieldsExecutionContext
from runyard.api.graphql.resolvers import RESOLVERS
from runyard.api.graphql.scalars import bind_scalars
from runyard.errors import BadRequest, RunyardError, Unavailable

log = logging.getLogger("runyard.graphql")

_DOCUMENT_CACHE_SIZE = 256


def sdl() -> str:
    return resources.files("runyard.api.graphql").joinpath("schema.graphql").read_text("utf-8")


@lru_cache(maxsize=1)
def load_schema() -> GraphQLSchema:
    schema = build_schema(sdl())
    bind_scalars(schema)
    for path, resolver in RESOLVERS.items():
        type_name, field_name = path.split(".")
        graphql_type = schema.type_map.get(type_name)
        if not isinstance(graphql_type, GraphQLObjectType) or field_name not in graphql_type.fields:
            raise RuntimeError(f"resolver for {path} has no field in schema.graphql")
        graphql_type.fields[field_name].resolve = resolver
    return schema


class DocumentCache:
    def __init__(self, schema: GraphQLSchema, size: int = _DOCUMENT_CACHE_SIZE) -> None:
        self._schema = schema
        self._size = size
        self._docs: OrderedDict[str, DocumentNode] = OrderedDict()
        self._lock = Lock()

    def get(self, query: str) -> DocumentNode:
        with self._lock:
            doc = self._docs.get(query)
            if doc is not None:
                self._docs.move_to_end(query)
                return doc
        try:
            doc = parse(query)
        except GraphQLError as exc:
            raise InvalidQuery([exc]) from None
        errors = validate(self._schema, doc)
        if errors:
            raise InvalidQuery(errors)
        with self._lock:
            self._docs[query] = doc
            if len(self._docs) > self._size:
                self._docs.popitem(last=False)
        return doc


class InvalidQuery(BadRequest):
    def __init__(self, errors: list[GraphQLError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


class GraphQLService:
    def __init__(self) -> None:
        self.schema = load_schema()
        self._documents = DocumentCache(self.schema)

    def execute(self, query: str, variables: dict[str, Any] | None, operation_name: str | None,
                context: Context) -> dict[str, Any]:
        """Run one request (synchronously; call from a worker thread)."""
        document = self._documents.get(query)
        result = execute(self.schema, document, variable_values=variables,
                         operation_name=operation_name or None, context_value=context,
                         execution_context_class=FastFieldsExecutionContext)
        if not isinstance(result, ExecutionResult):
            raise RuntimeError("resolvers must be synchronous")
        if result.errors and result.data is None and all(e.path is None for e in result.errors):
            # Nothing ran: variables did not coerce, or the operation was not found.
            raise InvalidQuery(list(result.errors))
        for error in result.errors or ():
            if isinstance(error.original_error, Unavailable):
                # A backend is down: answer 503 so the client retries the whole operation.
                raise error.original_error
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [_public_error(e) for e in result.errors]
        return body


def _public_error(error: GraphQLError) -> dict[str, Any]:
    """Our own errors keep their message; anything else is logged and hidden."""
    original = error.original_error
    if original is None or error.path is None:
        # graphql-core's own error about the request (not a resolver's): safe to show.
        code, message, status = "bad_request", error.message, 400
    elif isinstance(original, RunyardError) and original.status_code < 500:
        code, message, status = original.code, original.message, original.status_code
    else:
        log.error("resolver failed at %s", error.path, exc_info=original)
        code, message, status = "internal_error", "internal server error", 500
    return {"message": message, "path": error.path,
            "extensions": {"code": code, "status": status}}
