"""``asyncio.run`` for tests that may share a process with Playwright's sync API.

pytest-playwright keeps an event loop running in the main thread for the rest of the session
once a browser test ran, and ``asyncio.run`` refuses to start inside it. Then the coroutine
runs on a fresh loop in a helper thread instead, which is what ``asyncio.run`` would give it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    result: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="asyncrun")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]
