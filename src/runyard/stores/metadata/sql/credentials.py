"""Database password from AWS Secrets Manager, fetched at start and on refusal (rotation)."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from runyard.errors import ConfigError

log = logging.getLogger("runyard.db")


class SecretsManagerPassword:
    """Reads a secret that is the password itself, or JSON with a ``password`` key
    (the shape RDS-managed master secrets have)."""

    def __init__(self, secret_id: str, region: str = "") -> None:
        self.secret_id = secret_id
        self.region = region
        self._value: str | None = None
        self._lock = threading.Lock()

    def get(self, *, refresh: bool = False) -> str:
        with self._lock:
            if self._value is None or refresh:
                self._value = self._fetch()
                log.info("database password read from secret %s", self.secret_id)
            return self._value

    def _fetch(self) -> str:
        try:
            import boto3
        except ImportError:
            raise ConfigError("reading a Secrets Manager secret needs boto3: "
                              "pip install 'runyard[aws]'") from None
        client: Any = boto3.client("secretsmanager", region_name=self.region or None)
        try:
            raw = client.get_secret_value(SecretId=self.secret_id)["SecretString"]
        except Exception as exc:
            raise ConfigError(f"cannot read secret {self.secret_id!r}: "
                              f"{type(exc).__name__}") from None
        try:
            value = json.loads(raw)
        except ValueError:
            return str(raw)
        if isinstance(value, dict) and "password" in value:
            return str(value["password"])
        return str(raw)
