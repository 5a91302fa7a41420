"""CreateRunFiles: hand out signed upload URLs for run files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runyard.api.graphql.views import Info, ctx_of
from runyard.domain import ids
from runyard.errors import BadRequest
from runyard.stores.keys import check_file_name, run_file_key

MAX_FILES_PER_CALL = 1000


def create_run_files(_root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    context = ctx_of(info)
    run = context.run(input["entityName"], input["projectName"], input["runName"])
    names = [check_file_name(n) for n in input["files"]]
    if len(names) > MAX_FILES_PER_CALL:
        raise BadRequest(f"at most {MAX_FILES_PER_CALL} files per call")
    records = context.runtime.store.register_files(
        run.id, names, lambda name: run_file_key(run.id, name))
    runtime = context.runtime
    return {
        "runID": ids.encode("Run", run.id),
        "uploadHeaders": runtime.blobs.upload_headers(),
        "files": [
            {"name": r.name, "uploadUrl": runtime.blob_url("PUT", r.storage_key, context.base_url)}
            for r in records
        ],
    }


RESOLVERS: dict[str, Callable[..., Any]] = {"Mutation.createRunFiles": create_run_files}
