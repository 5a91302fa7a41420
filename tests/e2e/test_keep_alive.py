"""Idle HTTP connections stay open longer than the clients keep them (keep_alive_timeout).

With uvicorn's default of 5 s, wandb's finish() sometimes waited ~2 s more: its first request
after a 5 s training loop went out on a connection the server was closing at that moment, and
wandb-core retried it after a backoff. A client (Go: 90 s) or a load balancer (ALB: 60 s)
that closes idle connections first never races the server this way.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.e2e.server import RunyardServer

REQUEST = b"GET /ready HTTP/1.1\r\nHost: runyard\r\n\r\n"


def _ask(sock: socket.socket) -> bytes:
    """One request on the open connection, and its whole answer (b"" when the server had
    closed the connection): headers, then as many body bytes as Content-Length says."""
    try:
        sock.sendall(REQUEST)
        answer = b""
        while b"\r\n\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                return answer
            answer += more
        head, _, body = answer.partition(b"\r\n\r\n")
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        while len(body) < length:
            more = sock.recv(65536)
            if not more:
                break
            body += more
        return head + b"\r\n\r\n" + body
    except (BrokenPipeError, ConnectionResetError):
        return b""


def test_an_idle_connection_outlives_the_old_five_seconds(server: RunyardServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        assert _ask(sock).startswith(b"HTTP/1.1 200")
        time.sleep(6)
        assert _ask(sock).startswith(b"HTTP/1.1 200")


def test_keep_alive_timeout_closes_idle_connections_when_set(tmp_path: Path) -> None:
    short = RunyardServer(tmp_path / "data", env={"RUNYARD_KEEP_ALIVE_TIMEOUT": "1"}).start()
    try:
        with socket.create_connection(("127.0.0.1", short.port), timeout=10) as sock:
            assert _ask(sock).startswith(b"HTTP/1.1 200")
            time.sleep(2.5)
            assert _ask(sock) == b""  # the server closed it
    finally:
        short.stop()
