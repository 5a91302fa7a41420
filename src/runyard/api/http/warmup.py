"""Work every server process does once, done while it starts instead of in its first requests.

FastAPI prepares each included router's routes (parameter models, dependency graphs) the
first time a request is matched against that router, and matching walks the routers in
order: the first request after a start, whatever its path, paid about 30-60 ms for this
app's routes (measured on 2 cores), e.g. the first chart a user opens after a deploy or a
replica restart. One request for a path that no API route matches walks every router and
leaves them built. It goes to the router directly (no middleware: no client address, no
credentials) with ``OPTIONS``, which no route answers, so nothing runs but the matching.

Then the objects made so far (modules, SQLAlchemy and pydantic models, the built routes: a
few hundred thousand, all living as long as the process) are moved out of the garbage
collector's sight with ``gc.freeze``. Otherwise the first full collection, which comes after
some allocation-heavy requests, walks all of them: about 100 ms inside whichever request
triggers it (seen as a cold chart taking 150 ms instead of 60 ms).
"""

from __future__ import annotations

import gc
import logging

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.types import Message, Scope

log = logging.getLogger("runyard.http")

#: No route has this path; the web UI's catch-all matches it, but only for GET.
WARMUP_PATH = "/.runyard-warmup"


async def prepare_to_serve(app: FastAPI) -> None:
    """Build every route's handler, then freeze what start-up made (see the module doc)."""
    await prepare_routes(app)
    gc.collect()
    gc.freeze()


def finished_serving() -> None:
    """Give frozen objects back to the collector (an app stopped in a longer-lived process,
    as in tests, can then be freed)."""
    gc.unfreeze()


async def prepare_routes(app: FastAPI) -> None:
    """Match one request against every route once; answers and refusals are dropped."""
    scope: Scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": "OPTIONS", "scheme": "http", "path": WARMUP_PATH,
        "raw_path": WARMUP_PATH.encode(), "query_string": b"", "root_path": "",
        "headers": [], "client": None, "server": None, "app": app,
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    try:
        await app.router(scope, receive, send)
    except HTTPException:
        pass  # 404/405: the routers are built all the same
    except Exception:  # only a speed-up: a failure must not stop the server from starting
        log.warning("could not prepare the routes at start", exc_info=True)
