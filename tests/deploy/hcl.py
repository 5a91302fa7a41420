"""Terraform files parsed with python-hcl2 (8.x), with its quoting removed.

python-hcl2 8 keeps HCL quoting: block labels come out as ``'"aws_s3_bucket"'`` and string
literals as ``'"text"'``, while expressions are ``'${...}'``. :func:`load_module` strips the
quotes so tests compare plain values, and indexes blocks by type and name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2


def _unquote(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1].replace('\\"', '"')
        return value
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items() if k != "__is_block__"}
    return value


@dataclass
class Module:
    path: Path
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    terraform: list[dict[str, Any]] = field(default_factory=list)

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        assert (kind, name) in self.resources, f"{self.path}: no resource {kind}.{name}"
        return self.resources[(kind, name)]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: body for (k, name), body in self.resources.items() if k == kind}

    def policy(self, name: str) -> dict[str, Any]:
        """The ``aws_iam_policy_document`` data source ``name``."""
        key = ("aws_iam_policy_document", name)
        assert key in self.data, f"{self.path}: no policy document {name}"
        return self.data[key]


def load_module(path: Path) -> Module:
    module = Module(path)
    for tf in sorted(path.glob("*.tf")):
        with tf.open() as handle:
            parsed = _unquote(hcl2.load(handle))
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    module.resources[(kind, name)] = body
        for block in parsed.get("data", []):
            for kind, named in block.items():
                for name, body in named.items():
                    module.data[(kind, name)] = body
        for block in parsed.get("variable", []):
            module.variables.update(block)
        for block in parsed.get("output", []):
            module.outputs.update(block)
        for block in parsed.get("module", []):
            module.modules.update(block)
        for block in parsed.get("locals", []):
            module.locals.update(block)
        for block in parsed.get("provider", []):
            module.providers.update(block)
        module.terraform.extend(parsed.get("terraform", []))
    return module


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return list(policy.get("statement", []))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
