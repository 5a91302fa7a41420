"""Lost races between transactions: what running the transaction again would win."""

from __future__ import annotations


def deadlocked(exc: BaseException) -> bool:
    """The database aborted the transaction behind ``exc`` (a store error raised from a
    driver error) to break a deadlock: MySQL/MariaDB 1213, PostgreSQL 40P01/40001."""
    cause = getattr(exc.__cause__, "orig", None)
    code = getattr(cause, "sqlstate", None) or (cause.args[0] if cause and cause.args else None)
    return code in (1213, "40P01", "40001")
