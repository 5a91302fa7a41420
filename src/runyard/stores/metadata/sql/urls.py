"""Database URLs: accept the forms deployments hand us and turn them into SQLAlchemy URLs."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

from runyard.errors import ConfigError

_DRIVERS = {
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
}
SCHEMES = ("sqlite", "mysql", "mysql+pymysql", "mariadb", "postgres", "postgresql",
           "postgresql+psycopg")


def normalize(url: str) -> URL:
    """``mysql://u:p@h:3306/db`` (the Terraform output) becomes PyMySQL with utf8mb4."""
    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError("the database URL cannot be parsed") from None
    driver = _DRIVERS.get(parsed.drivername, parsed.drivername)
    if driver not in SCHEMES:
        raise ConfigError(f"unsupported database {parsed.drivername!r}; use one of "
                          + ", ".join(f"{s}://" for s in SCHEMES))
    parsed = parsed.set(drivername=driver)
    if driver == "mysql+pymysql" and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def redacted(url: str | URL) -> str:
    """The URL with its password hidden, for logs and errors."""
    return normalize(str(url) if isinstance(url, URL) else url).render_as_string(
        hide_password=True)
