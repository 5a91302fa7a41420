"""Run search in portable SQL: filters and order over run columns, tags, config and summary.

Config and summary are JSON text, and JSON functions differ on every database (and refuse
the NaN/Infinity that summaries hold), so their scalar leaves are also kept in
``run_values`` (one row per run, scope and dotted path: a kind, a number, a string), written
whenever a run's config or summary changes. A condition on a value is an EXISTS on that
table, an order on a value an outer join; both are plain SQL on every database.

Comparisons follow MongoDB: within a type (numbers with numbers, strings with strings),
``$ne``/``$nin`` also match runs without the value, ``null`` matches null or missing. Every
condition is two-valued (never SQL NULL), so negation is exact.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    cast,
    false,
    func,
    not_,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import aliased

from runyard.errors import BadRequest
from runyard.stores.metadata.base import (
    SEARCHABLE_RUN_COLUMNS,
    TIME_RUN_COLUMNS,
    AllOf,
    AnyOf,
    Compare,
    Exists,
    Matches,
    Negation,
    OneOf,
    RunField,
    RunFilter,
    RunOrder,
)
from runyard.stores.metadata.sql import models as m

# value rows ------------------------------------------------------------------------------------
MAX_VALUES = 5000  # per run and scope
MAX_DEPTH = 12
MAX_PATH = 255

#: Sort rank of each kind within "has a comparable value", ascending.
_RANK = {"-inf": 0, "num": 1, "inf": 2, "bool": 3, "str": 4, "json": 5, "nan": 0, "null": 1}
_NOT_NULL_COLUMNS = frozenset({"name", "display_name", "state", "username", *TIME_RUN_COLUMNS})


@dataclass(frozen=True, slots=True)
class Leaf:
    path: str
    kind: str  # num, inf, -inf, nan, bool, str, json (a list), null
    num: float | None
    text: str | None


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=True)


def leaf_of(path: str, value: Any) -> Leaf:
    if value is None:
        return Leaf(path, "null", None, None)
    if isinstance(value, bool):
        return Leaf(path, "bool", 1.0 if value else 0.0, None)
    if isinstance(value, int | float):
        return Leaf(path, *_number(value), None)
    if isinstance(value, str):
        return Leaf(path, "str", None, value)
    return Leaf(path, "json", None, canonical(value))


def _number(value: float) -> tuple[str, float | None]:
    try:
        number = float(value)
    except OverflowError:  # an integer beyond double range
        return ("inf" if value > 0 else "-inf"), None
    if math.isnan(number):
        return "nan", None
    if math.isinf(number):
        return ("inf" if number > 0 else "-inf"), None
    return "num", number


def _loads(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _flatten(prefix: str, value: Any, out: list[Leaf], depth: int) -> None:
    if len(out) >= MAX_VALUES or len(prefix) > MAX_PATH:
        return
    if isinstance(value, dict) and value and depth < MAX_DEPTH:
        for key, child in value.items():
            _flatten(f"{prefix}.{key}", child, out, depth + 1)
        return
    out.append(leaf_of(prefix, value))


def config_leaves(text: str | None) -> list[Leaf]:
    """Config entries are ``{"key": {"value": v, "desc": ...}}``; ``_wandb`` is the client's."""
    out: list[Leaf] = []
    for key, entry in _loads(text).items():
        if key == "_wandb":
            continue
        value = entry["value"] if isinstance(entry, dict) and "value" in entry else entry
        _flatten(key, value, out, 0)
    return out


def summary_leaves(text: str | None) -> list[Leaf]:
    out: list[Leaf] = []
    for key, value in _loads(text).items():
        _flatten(key, value, out, 0)
    return out


def value_rows(run_id: int, scope: str, text: str | None) -> list[dict[str, Any]]:
    leaves = config_leaves(text) if scope == "config" else summary_leaves(text)
    seen: set[str] = set()
    rows = []
    for leaf in leaves:
        if leaf.path in seen:  # "a.b" as a key and as a nested path: the first one wins
            continue
        seen.add(leaf.path)
        rows.append({"run_id": run_id, "scope": scope, "path": leaf.path, "kind": leaf.kind,
                     "num_value": leaf.num, "str_value": leaf.text,
                     "str_hash": None if leaf.text is None else str_hash(leaf.text)})
    return rows


def str_hash(text: str) -> int:
    """A signed 64-bit hash of a string value, the same in every process and database."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# filters ---------------------------------------------------------------------------------------
class SearchSql:
    """Build WHERE and ORDER BY clauses for one database flavor: sqlite, mysql, mariadb,
    postgresql."""

    def __init__(self, flavor: str) -> None:
        self.flavor = flavor

    # where -------------------------------------------------------------------------------
    def where(self, item: RunFilter) -> ColumnElement[bool]:
        if isinstance(item, AllOf):
            return and_(true(), *(self.where(i) for i in item.items))
        if isinstance(item, AnyOf):
            return or_(false(), *(self.where(i) for i in item.items))
        if isinstance(item, Negation):
            return not_(self.where(item.item))
        source = item.field.source
        if source == "column":
            return self._column_condition(item)
        if source == "tags":
            return self._tags_condition(item)
        return self._value_condition(item)

    def _exact(self, expr: Any) -> Any:
        """Compare strings byte for byte: MySQL/MariaDB default collations ignore case."""
        if self.flavor in ("mysql", "mariadb"):
            return _binary(expr)
        return expr

    def _regexp(self, expr: Any, pattern: str) -> ColumnElement[bool]:
        if self.flavor == "mariadb":
            return expr.regexp_match("(?-i)" + pattern)  # type: ignore[no-any-return]
        if self.flavor == "mysql":
            return expr.regexp_match(pattern, flags="c")  # type: ignore[no-any-return]
        return expr.regexp_match(pattern)  # type: ignore[no-any-return]

    # run columns -----------------------------------------------------------------------------
    @staticmethod
    def column(name: str) -> Any:
        if name not in SEARCHABLE_RUN_COLUMNS:
            raise BadRequest(f"cannot filter on the run column {name!r}")
        if name == "username":
            return (select(m.User.username).where(m.User.id == m.Run.user_id)
                    .scalar_subquery())
        return getattr(m.Run, name)

    def _column_condition(self, item: RunFilter) -> ColumnElement[bool]:
        name = item.field.name  # type: ignore[union-attr]
        col = self.column(name)
        present = true() if name in _NOT_NULL_COLUMNS else col.is_not(None)
        timed = name in TIME_RUN_COLUMNS
        if isinstance(item, Compare):
            if item.value is None:
                return false() if item.op != "eq" or name in _NOT_NULL_COLUMNS else col.is_(None)
            target = col if timed else self._exact(col)
            if item.op != "eq" and not timed:
                target = col  # ordering comparisons follow the database's collation
            ops = {"eq": target == item.value, "gt": target > item.value,
                   "gte": target >= item.value, "lt": target < item.value,
                   "lte": target <= item.value}
            return and_(present, ops[item.op])
        if isinstance(item, OneOf):
            values = [v for v in item.values if v is not None]
            target = col if timed else self._exact(col)
            match = and_(present, target.in_(values)) if values else false()
            if any(v is None for v in item.values) and name not in _NOT_NULL_COLUMNS:
                match = or_(match, col.is_(None))
            return not_(match) if item.negate else match
        if isinstance(item, Matches):
            return and_(present, self._regexp(col, item.pattern))
        if isinstance(item, Exists):
            return present if item.present else not_(present)
        raise BadRequest("unsupported condition")

    # tags --------------------------------------------------------------------------------
    def _has_tag(self, tag: str) -> ColumnElement[bool]:
        # Tags are stored as a JSON list; a tag with its JSON quotes is an exact element.
        return contains_exact(m.Run.tags, json.dumps(tag), self.flavor)

    def _tags_condition(self, item: RunFilter) -> ColumnElement[bool]:
        if isinstance(item, Compare) and item.op == "eq" and isinstance(item.value, str):
            return self._has_tag(item.value)
        if isinstance(item, OneOf):
            match = or_(false(), *(self._has_tag(str(v)) for v in item.values))
            return not_(match) if item.negate else match
        if isinstance(item, Exists):
            has_any = m.Run.tags != "[]"
            return has_any if item.present else not_(has_any)
        raise BadRequest("tags support equality, $ne, $in, $nin, $all and $exists")

    # config and summary values -----------------------------------------------------------
    @staticmethod
    def _value_exists(field: RunField, condition: ColumnElement[bool]) -> ColumnElement[bool]:
        rv = m.RunValue
        paths = field.paths or (field.name,)
        # IN rather than a correlated EXISTS: the database starts from the value's index.
        return m.Run.id.in_(select(rv.run_id).where(
            rv.scope == field.source, rv.path.in_(paths), condition))

    @staticmethod
    def _present(field: RunField) -> ColumnElement[bool]:
        """The value, or anything under it (an object's keys), exists."""
        rv = m.RunValue
        paths = field.paths or (field.name,)
        under = [rv.path.like(_like_prefix(p) + ".%", escape="/") for p in paths]
        return m.Run.id.in_(select(rv.run_id).where(
            rv.scope == field.source, or_(rv.path.in_(paths), *under)))

    def _value_condition(self, item: RunFilter) -> ColumnElement[bool]:
        field = item.field  # type: ignore[union-attr]
        if isinstance(item, Compare):
            if item.value is None and item.op == "eq":
                return or_(self._value_exists(field, m.RunValue.kind == "null"),
                           not_(self._present(field)))
            return self._value_exists(field, _value_compare(item.op, item.value))
        if isinstance(item, OneOf):
            conditions = [_value_compare("eq", v) for v in item.values if v is not None]
            match = (self._value_exists(field, or_(false(), *conditions)) if conditions
                     else false())
            if any(v is None for v in item.values):
                match = or_(match, self._value_exists(field, m.RunValue.kind == "null"),
                            not_(self._present(field)))
            return not_(match) if item.negate else match
        if isinstance(item, Matches):
            rv = m.RunValue
            return self._value_exists(
                field, and_(rv.kind == "str", self._regexp(rv.str_value, item.pattern)))
        if isinstance(item, Exists):
            return self._present(field) if item.present else not_(self._present(field))
        raise BadRequest("unsupported condition")

    # order -----------------------------------------------------------------------------------
    def order(self, order: RunOrder) -> tuple[list[tuple[Any, bool]], Any, Any]:
        """(parts, join target, join condition): the sort expressions with their direction
        (True = descending), ending with the run id; the join is None for run columns."""
        desc = order.descending
        field = order.field
        if field.source == "column":
            col = self.column(field.name)
            if field.name in _NOT_NULL_COLUMNS:
                return [(col, desc), (m.Run.id, desc)], None, None
            return ([(case((col.is_(None), 1), else_=0), False),
                     (func.coalesce(col, ""), desc), (m.Run.id, desc)], None, None)
        if field.source not in ("config", "summary"):
            raise BadRequest(f"cannot sort on {field.source}")
        sv = aliased(m.RunValue, name="sort_value")
        on = and_(sv.run_id == m.Run.id, sv.scope == field.source, sv.path == field.name)
        group = case((sv.kind.is_(None), 2), (sv.kind.in_(("nan", "null")), 1), else_=0)
        rank = case(_RANK, value=sv.kind, else_=0)
        parts: list[tuple[Any, bool]] = [
            (group, False), (rank, desc), (func.coalesce(sv.num_value, 0.0), desc),
            (func.coalesce(sv.str_value, ""), desc), (m.Run.id, desc)]
        return parts, sv, on


def contains_exact(expr: Any, needle: str, flavor: str) -> ColumnElement[bool]:
    """``needle`` occurs in ``expr``, case-sensitively on every database (LIKE ignores case
    on SQLite and under MySQL's default collations)."""
    if flavor == "sqlite":
        return func.instr(expr, needle) > 0
    if flavor == "postgresql":
        return func.strpos(expr, needle) > 0
    return _binary(expr).contains(needle, autoescape=True)  # type: ignore[no-any-return]


def _binary(expr: Any) -> Any:
    """``CAST(expr AS BINARY)`` (byte comparison) that still binds its operands as text."""
    return type_coerce(cast(expr, mysql.BINARY()), String())


def after_key(parts: Sequence[tuple[Any, bool]], key: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after ``key`` in the order of ``parts`` (keyset pagination)."""
    if len(key) != len(parts):
        raise BadRequest("invalid cursor")
    alternatives = []
    for i, (expr, desc) in enumerate(parts):
        value = key[i]
        if value is None:
            raise BadRequest("invalid cursor")
        beyond = expr < value if desc else expr > value
        alternatives.append(and_(*(parts[j][0] == key[j] for j in range(i)), beyond))
    return or_(*alternatives)


def plain(value: Any) -> Any:
    """A sort key value as JSON can carry it (drivers return Decimal for some expressions)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _like_prefix(path: str) -> str:
    return path.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _value_compare(op: str, value: Any) -> ColumnElement[bool]:
    """A condition on one run_values row: ``value <op> operand`` within the operand's type."""
    rv = m.RunValue
    if isinstance(value, bool):
        return and_(rv.kind == "bool", _ops(rv.num_value, op, 1.0 if value else 0.0))
    if isinstance(value, int | float):
        kind, number = _number(value)
        if kind == "nan":
            return rv.kind == "nan" if op == "eq" else false()
        if kind in ("inf", "-inf"):
            return _infinite_compare(op, kind)
        finite = and_(rv.kind == "num", _ops(rv.num_value, op, number))
        if op in ("gt", "gte"):
            return or_(finite, rv.kind == "inf")
        if op in ("lt", "lte"):
            return or_(finite, rv.kind == "-inf")
        return finite
    if isinstance(value, str):
        if op == "eq":
            return and_(rv.str_hash == str_hash(value), rv.kind == "str",
                        _ops(rv.str_value, op, value))
        return and_(rv.kind == "str", _ops(rv.str_value, op, value))
    if isinstance(value, list) and op == "eq":
        text = canonical(value)
        return and_(rv.str_hash == str_hash(text), rv.kind == "json", rv.str_value == text)
    raise BadRequest(f"cannot compare with {value!r}")


def _infinite_compare(op: str, kind: str) -> ColumnElement[bool]:
    rv = m.RunValue
    numbers = ("-inf", "num", "inf")
    position = numbers.index(kind)
    if op == "eq":
        return rv.kind == kind
    if op == "gt":
        return rv.kind.in_(numbers[position + 1:]) if position < 2 else false()
    if op == "gte":
        return rv.kind.in_(numbers[position:])
    if op == "lt":
        return rv.kind.in_(numbers[:position]) if position > 0 else false()
    return rv.kind.in_(numbers[: position + 1])


def _ops(expr: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "eq":
        return expr == value  # type: ignore[no-any-return]
    if op == "gt":
        return expr > value  # type: ignore[no-any-return]
    if op == "gte":
        return expr >= value  # type: ignore[no-any-return]
    if op == "lt":
        return expr < value  # type: ignore[no-any-return]
    if op == "lte":
        return expr <= value  # type: ignore[no-any-return]
    raise BadRequest(f"unsupported comparison {op!r}")
