"""Collect the GraphQL documents that the installed ``wandb`` client can send.

Nothing here copies the client's query texts into this repository: every
document is read, at test time, from the installed package.

* Python sources (``wandb/**/*.py``): the public API builds its queries from
  module constants, f-strings, ``str.format`` and small ``if`` blocks (for
  instance ``UseArtifact`` appends variables when a server feature is on).  A
  tiny abstract interpreter evaluates those string expressions, once for every
  combination of the ``if`` branches in the enclosing function, so that every
  variant (feature on / feature off) is produced.
* The Go binary ``wandb/bin/wandb-core``: genqlient embeds each operation as a
  string constant (``"\\nquery Name (...) {...}"`` followed by its fragments);
  they are cut out of the binary bytes by brace matching.
* ``capture.jsonl`` (the protocol probe's recording, outside the repository):
  the query texts that were not truncated by the recorder.

Only documents that graphql-core can parse are kept.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import itertools
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import (
    REMOVE,
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSyntaxError,
    ObjectFieldNode,
    OperationDefinitionNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    parse,
    print_ast,
    visit,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CAPTURE_PATH = REPO_ROOT.parent / "shared" / "wandb" / "capture.jsonl"

# An operation definition somewhere in a string: `query Name(` / `mutation Name {`.
_OP_IN_TEXT = re.compile(r"\b(?:query|mutation|subscription)\s+[_A-Za-z]\w*\s*[({]")
# Start of a genqlient operation constant inside the wandb-core binary.
_CORE_OP_START = re.compile(rb"\n(?:query|mutation|subscription) [_A-Za-z]\w*[ ({]")
_CORE_FRAGMENT_START = re.compile(rb"\nfragment [_A-Za-z]\w* on [_A-Za-z]\w* *\{")

# Bounds for the abstract interpreter.
_MAX_ALTERNATIVES = 32
_MAX_ENUMERATED_IFS = 8


@dataclass(frozen=True)
class ClientDocument:
    """One GraphQL operation the installed client can send."""

    source: str  # e.g. "py:apis/public/runs.py:799" or "core:wandb-core"
    operation_name: str
    text: str
    # "" for the text as written in the client; otherwise how it was derived
    # (e.g. "features-off": after wandb-core stripped feature-gated fields).
    variant: str = ""

    @property
    def key(self) -> str:
        """Stable id: operation name, source kind, variant and a hash of the normalized text."""
        digest = hashlib.sha1(normalize(self.text).encode()).hexdigest()[:8]  # noqa: S324
        kind = self.source.split(":", 1)[0] + (f"/{self.variant}" if self.variant else "")
        return f"{self.operation_name}@{kind}#{digest}"


# --------------------------------------------------------------------------- helpers


def normalize(text: str) -> str:
    """Canonical form of a document (whitespace/commas/comments removed)."""
    return print_ast(parse(text, no_location=True))


def _operation_names(text: str) -> list[str] | None:
    """Names of the operations in `text`, or None if it is not parseable GraphQL."""
    try:
        doc = parse(text, no_location=True)
    except GraphQLSyntaxError:
        return None
    names = [
        d.name.value
        for d in doc.definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    ]
    return names or None


def wandb_package_dir() -> Path:
    """Directory of the installed `wandb` package (found without importing it)."""
    spec = importlib.util.find_spec("wandb")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"wandb is not installed for {sys.executable}")
    return Path(next(iter(spec.submodule_search_locations)))


def wandb_core_binary() -> Path:
    return wandb_package_dir() / "bin" / "wandb-core"


_TOKEN = re.compile(
    r'\.\.\.|[_A-Za-z][_0-9A-Za-z]*|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*"|[!$&():=@\[\]{}|]'
)


def tokens(text: str) -> list[str]:
    """GraphQL tokens of `text`, ignoring whitespace, commas and `#` comments."""
    text = re.sub(r"#[^\n]*", "", text)
    return _TOKEN.findall(text)


def _spread_names(doc: DocumentNode) -> set[str]:
    names: set[str] = set()

    class _Spreads(Visitor):
        def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
            names.add(node.name.value)

    visit(doc, _Spreads())
    return names


def apply_omissions(
    text: str,
    *,
    fields: frozenset[str] | set[str] = frozenset(),
    variables: frozenset[str] | set[str] = frozenset(),
    fragments: frozenset[str] | set[str] = frozenset(),
) -> str:
    """Rewrite a document the way wandb-core does for `omit_*` (public API requests).

    The public API asks wandb-core to strip what the server does not support
    (`ServiceApi.execute_graphql(omit_fields=..., omit_variables=...,
    omit_fragments=...)`): fields by name (aliased or not), variable
    definitions and the arguments that use them, fragments and their spreads;
    fragments left unused are dropped too.
    """

    def uses_omitted_variable(value: ValueNode) -> bool:
        return isinstance(value, VariableNode) and value.name.value in variables

    class _Omit(Visitor):
        def enter_variable_definition(self, node: VariableDefinitionNode, *_: Any) -> Any:
            return REMOVE if node.variable.name.value in variables else None

        def enter_argument(self, node: ArgumentNode, *_: Any) -> Any:
            return REMOVE if uses_omitted_variable(node.value) else None

        def enter_object_field(self, node: ObjectFieldNode, *_: Any) -> Any:
            return REMOVE if uses_omitted_variable(node.value) else None

        def enter_field(self, node: FieldNode, *_: Any) -> Any:
            return REMOVE if node.name.value in fields else None

        def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> Any:
            return REMOVE if node.name.value in fragments else None

        def enter_fragment_definition(self, node: FragmentDefinitionNode, *_: Any) -> Any:
            return REMOVE if node.name.value in fragments else None

    doc = visit(parse(text, no_location=True), _Omit())
    while True:  # drop fragments that are no longer spread anywhere
        used = _spread_names(doc)
        kept = tuple(
            d
            for d in doc.definitions
            if not (isinstance(d, FragmentDefinitionNode) and d.name.value not in used)
        )
        if len(kept) == len(doc.definitions):
            return print_ast(doc)
        doc = DocumentNode(definitions=kept)


# --------------------------------------------------------------------------- wandb-core


def _balanced_end(data: bytes, start: int) -> int | None:
    """Index just past the `}` closing the first `{` at or after `start`."""
    open_at = data.find(b"{", start)
    if open_at < 0:
        return None
    depth = 0
    limit = min(len(data), open_at + 200_000)
    for i in range(open_at, limit):
        c = data[i]
        if c == 0x7B:  # {
            depth += 1
        elif c == 0x7D:  # }
            depth -= 1
            if depth == 0:
                return i + 1
        elif c == 0 or c > 0x7E:
            # NUL or non-ASCII byte: we ran out of the string constant.
            return None
    return None


def extract_core_documents(binary: Path | None = None) -> list[ClientDocument]:
    """Operation documents embedded in the wandb-core Go binary (genqlient constants)."""
    data = (binary or wandb_core_binary()).read_bytes()
    seen: set[str] = set()
    out: list[ClientDocument] = []
    for m in _CORE_OP_START.finditer(data):
        end = _balanced_end(data, m.start())
        if end is None:
            continue
        # genqlient appends the fragments the operation uses right after it.
        while (fm := _CORE_FRAGMENT_START.match(data, end)) is not None:
            frag_end = _balanced_end(data, fm.start())
            if frag_end is None:
                break
            end = frag_end
        try:
            text = data[m.start() : end].decode("utf-8")
        except UnicodeDecodeError:
            continue
        names = _operation_names(text)
        if not names:
            continue
        norm = normalize(text)
        if norm in seen:
            continue
        seen.add(norm)
        out.extend(ClientDocument("core:wandb-core", name, text) for name in names)
    return out


# --------------------------------------------------------------------------- Python sources

# Values of the abstract interpreter: str, list (of values), or _UNKNOWN.
_UNKNOWN: Any = object()


class _ModuleIndex:
    """Parsed modules of the wandb package, with their top-level string constants."""

    def __init__(self, root: Path) -> None:
        self.root = root  # .../site-packages/wandb

    @functools.cache  # noqa: B019 - one index per test session
    def tree(self, module: str) -> ast.Module | None:
        path = self.path_of(module)
        if path is None:
            return None
        try:
            return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (SyntaxError, UnicodeDecodeError):
            return None

    def path_of(self, module: str) -> Path | None:
        parts = module.split(".")
        if parts[0] != "wandb":
            return None
        base = self.root.joinpath(*parts[1:])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    @staticmethod
    def module_name(path: Path, root: Path) -> str:
        rel = path.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts)

    def lookup(self, module: str, name: str, depth: int = 0) -> list[Any]:
        """Alternatives for a module-level name, following `from x import y`."""
        if depth > 6:
            return []
        env, imports = self.module_scope(module)
        if name in env:
            return env[name]
        if name in imports:
            src_module, src_name = imports[name]
            return self.lookup(src_module, src_name, depth + 1)
        # `from .operations import *` style re-exports.
        for star_module in self.star_imports(module):
            found = self.lookup(star_module, name, depth + 1)
            if found:
                return found
        return []

    @functools.cache  # noqa: B019
    def star_imports(self, module: str) -> tuple[str, ...]:
        tree = self.tree(module)
        if tree is None:
            return ()
        return tuple(
            _resolve_import(module, node, self.is_package(module))
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names)
        )

    def is_package(self, module: str) -> bool:
        path = self.path_of(module)
        return path is not None and path.name == "__init__.py"

    @functools.cache  # noqa: B019
    def module_scope(self, module: str) -> tuple[dict[str, list[Any]], dict[str, tuple[str, str]]]:
        """(name -> alternatives of string/list constants, name -> (module, name) imports)."""
        tree = self.tree(module)
        env: dict[str, list[Any]] = {}
        imports: dict[str, tuple[str, str]] = {}
        if tree is None:
            return env, imports
        is_pkg = self.is_package(module)
        resolved: dict[str, list[Any]] = {}

        def fallback(name: str) -> list[Any]:
            # Only names imported from *other* modules: this module is being indexed.
            if name in imports:
                return self.lookup(*imports[name])
            return []

        scope = _Scope(self, module, parent=None, env=resolved, fallback=fallback)
        for node in _walk_no_defs(tree.body):
            if isinstance(node, ast.ImportFrom):
                src = _resolve_import(module, node, is_pkg)
                for alias in node.names:
                    if alias.name != "*":
                        imports[alias.asname or alias.name] = (src, alias.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        # Lazy: evaluated on lookup so forward references work.
                        env.setdefault(target.id, []).append(_Lazy(scope, node.value))
        # Evaluate in definition order (module constants only reference earlier ones).
        for name, lazies in env.items():
            values: list[Any] = []
            for lazy in lazies:
                values.extend(v for v in lazy.evaluate() if v is not _UNKNOWN)
            resolved[name] = values[:_MAX_ALTERNATIVES]
        return resolved, imports


@dataclass
class _Lazy:
    scope: _Scope
    node: ast.expr

    def evaluate(self) -> list[Any]:
        return self.scope.ev(self.node)


def _resolve_import(module: str, node: ast.ImportFrom, is_pkg: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_pkg:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _walk_no_defs(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Statements of a block, descending into if/try/with/for but not into defs."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for field in ("body", "orelse", "finalbody", "handlers"):
            sub = getattr(stmt, field, None)
            if isinstance(sub, list):
                stmts = []
                for item in sub:
                    if isinstance(item, ast.ExceptHandler):
                        stmts.extend(item.body)
                    elif isinstance(item, ast.stmt):
                        stmts.append(item)
                yield from _walk_no_defs(stmts)


class _Scope:
    """Evaluates string-building expressions to their possible values."""

    def __init__(
        self,
        index: _ModuleIndex,
        module: str,
        parent: _Scope | None,
        env: dict[str, list[Any]],
        fallback: Callable[[str], list[Any]] | None = None,
    ) -> None:
        self.index = index
        self.module = module
        self.parent = parent
        self.env = env
        self.fallback = fallback
        # Branch taken for each condition (keyed by its source), when enumerating.
        self.choice: dict[str, bool] = {}

    def lookup(self, name: str) -> list[Any]:
        if name in self.env:
            return self.env[name]
        if self.parent is not None:
            return self.parent.lookup(name)
        if self.fallback is not None:
            return self.fallback(name) or [_UNKNOWN]
        return self.index.lookup(self.module, name) or [_UNKNOWN]

    def ev(self, node: ast.expr) -> list[Any]:  # noqa: C901, PLR0911, PLR0912
        """All possible values of `node` (strings / lists), `_UNKNOWN` when not static."""
        if isinstance(node, ast.Constant):
            return [node.value] if isinstance(node.value, str) else [_UNKNOWN]
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, ast.JoinedStr):
            parts: list[list[Any]] = []
            for value in node.values:
                if isinstance(value, ast.Constant):
                    parts.append([str(value.value)])
                elif isinstance(value, ast.FormattedValue):
                    parts.append([v for v in self.ev(value.value) if isinstance(v, str)])
                else:
                    return [_UNKNOWN]
            return self._product_join(parts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.ev(node.left), self.ev(node.right)
            out: list[Any] = []
            for a, b in itertools.product(left, right):
                if isinstance(a, str) and isinstance(b, str):
                    out.append(a + b)
                elif isinstance(a, list) and isinstance(b, list):
                    out.append(a + b)
                else:
                    out.append(_UNKNOWN)
            return out[:_MAX_ALTERNATIVES]
        if isinstance(node, ast.IfExp):
            taken = self.choice.get(_condition_key(node.test))
            if taken is None:
                return (self.ev(node.body) + self.ev(node.orelse))[:_MAX_ALTERNATIVES]
            return self.ev(node.body if taken else node.orelse)
        if isinstance(node, ast.List | ast.Tuple):
            items = [self.ev(e) for e in node.elts]
            return [
                list(combo)
                for combo in itertools.islice(itertools.product(*items), _MAX_ALTERNATIVES)
            ]
        if isinstance(node, ast.Call):
            return self._ev_call(node)
        return [_UNKNOWN]

    def _product_join(self, parts: list[list[Any]]) -> list[Any]:
        if any(not p for p in parts):
            return [_UNKNOWN]
        return [
            "".join(combo)
            for combo in itertools.islice(itertools.product(*parts), _MAX_ALTERNATIVES)
        ]

    def _ev_call(self, node: ast.Call) -> list[Any]:
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        # gql("..."), dedent("..."), textwrap.dedent("...") pass the text through.
        if fname in {"gql", "dedent", "cleandoc"} and len(node.args) == 1:
            return self.ev(node.args[0])
        if isinstance(func, ast.Attribute):
            bases = self.ev(func.value)
            if func.attr == "join" and len(node.args) == 1:
                out = []
                for sep, seq in itertools.product(bases, self.ev(node.args[0])):
                    ok = isinstance(sep, str) and isinstance(seq, list)
                    ok = ok and all(isinstance(s, str) for s in seq)
                    out.append(sep.join(seq) if ok else _UNKNOWN)
                return out[:_MAX_ALTERNATIVES]
            if func.attr == "format":
                arg_alts = [self.ev(a) for a in node.args]
                kw_alts = [(k.arg, self.ev(k.value)) for k in node.keywords if k.arg]
                out = []
                for base in bases:
                    if not isinstance(base, str):
                        out.append(_UNKNOWN)
                        continue
                    for combo in itertools.islice(
                        itertools.product(*arg_alts, *[alts for _, alts in kw_alts]),
                        _MAX_ALTERNATIVES,
                    ):
                        args = combo[: len(arg_alts)]
                        kwargs = {
                            k: v for (k, _), v in zip(kw_alts, combo[len(arg_alts) :], strict=True)
                        }
                        try:
                            out.append(base.format(*args, **kwargs))
                        except (IndexError, KeyError, ValueError, TypeError):
                            out.append(_UNKNOWN)
                return out[:_MAX_ALTERNATIVES]
            if func.attr in {"strip", "lstrip", "rstrip"} and not node.args:
                return [getattr(b, func.attr)() if isinstance(b, str) else _UNKNOWN for b in bases]
        return [_UNKNOWN]


def _condition_key(test: ast.expr) -> str:
    return ast.dump(test)


class _FunctionRunner:
    """Runs a block once per combination of its conditions and per known call site.

    Conditions are the tests of `if` statements and `x if c else y` expressions;
    the same test text always takes the same branch within one run, so values
    built from correlated conditionals stay consistent.
    """

    def __init__(
        self,
        index: _ModuleIndex,
        module: str,
        body: list[ast.stmt],
        bindings: list[dict[str, list[Any]]] | None = None,
    ) -> None:
        self.index = index
        self.module = module
        self.body = body
        self.bindings = bindings or [{}]
        keys: dict[str, None] = {}
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            for node in ast.walk(stmt):
                if isinstance(node, ast.If | ast.IfExp):
                    keys[_condition_key(node.test)] = None
        self.conditions = list(keys)

    def choices(self) -> Iterator[dict[str, bool]]:
        if len(self.conditions) <= _MAX_ENUMERATED_IFS:
            for combo in itertools.product((False, True), repeat=len(self.conditions)):
                yield dict(zip(self.conditions, combo, strict=True))
        else:
            yield dict.fromkeys(self.conditions, False)
            yield dict.fromkeys(self.conditions, True)

    def strings(self) -> Iterator[tuple[int, str]]:
        """(line, text) of every string expression value seen in any run."""
        for binding in self.bindings:
            for choice in self.choices():
                scope = _Scope(self.index, self.module, parent=None, env=dict(binding))
                scope.choice = choice
                yield from self._run(self.body, scope, choice)

    def _run(
        self, body: list[ast.stmt], scope: _Scope, choice: dict[str, bool]
    ) -> Iterator[tuple[int, str]]:
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            yield from self._strings_in(stmt, scope)
            if isinstance(stmt, ast.If):
                taken = choice.get(_condition_key(stmt.test), False)
                branch = stmt.body if taken else stmt.orelse
                yield from self._run(branch, scope, choice)
            elif isinstance(stmt, ast.With | ast.AsyncWith | ast.Try):
                yield from self._run(stmt.body, scope, choice)
                for extra in ("orelse", "finalbody"):
                    yield from self._run(getattr(stmt, extra, []), scope, choice)
            elif isinstance(stmt, ast.For | ast.While):
                yield from self._run(stmt.body, scope, choice)
            else:
                self._apply(stmt, scope)

    @staticmethod
    def _apply(stmt: ast.stmt, scope: _Scope) -> None:
        """Track assignments / list mutations of local names."""
        if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            value = scope.ev(stmt.value)
            for target in targets:
                if isinstance(target, ast.Name):
                    scope.env[target.id] = value
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            name = stmt.target.id
            if isinstance(stmt.op, ast.Add):
                scope.env[name] = scope.ev(ast.BinOp(stmt.target, ast.Add(), stmt.value))
            else:
                scope.env[name] = [_UNKNOWN]
        elif (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Attribute)
            and isinstance(stmt.value.func.value, ast.Name)
            and stmt.value.func.attr in {"append", "extend"}
            and len(stmt.value.args) == 1
        ):
            name = stmt.value.func.value.id
            arg = stmt.value.args[0]
            items = ast.List([arg], ast.Load()) if stmt.value.func.attr == "append" else arg
            scope.env[name] = scope.ev(ast.BinOp(ast.Name(name, ast.Load()), ast.Add(), items))

    @staticmethod
    def _strings_in(stmt: ast.stmt, scope: _Scope) -> Iterator[tuple[int, str]]:
        """Evaluate the string-building expressions directly inside `stmt`."""
        header: list[ast.AST]
        if isinstance(stmt, ast.If | ast.While):
            header = [stmt.test]
        elif isinstance(stmt, ast.For):
            header = [stmt.iter]
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            header = list(stmt.items)
        elif isinstance(stmt, ast.Try):
            header = []
        else:
            header = [stmt]
        # Only maximal string expressions: the pieces of an f-string or of a `+`
        # are not documents on their own.
        pending: list[ast.AST] = list(header)
        while pending:
            node = pending.pop()
            if isinstance(node, ast.Lambda | ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if isinstance(node, ast.Constant | ast.JoinedStr | ast.BinOp | ast.Call | ast.IfExp):
                texts = [v for v in scope.ev(node) if isinstance(v, str) and _OP_IN_TEXT.search(v)]
                if texts:
                    for text in texts:
                        yield getattr(node, "lineno", 0), text
                    continue
            pending.extend(ast.iter_child_nodes(node))


_OP_KEYWORD = re.compile(r"\b(?:query|mutation|subscription)\s+[_A-Za-z]\w*")


def _mentions_operation(body: list[ast.stmt]) -> bool:
    """Whether a block (not its nested defs) holds a string literal with an operation."""
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for node in ast.walk(stmt):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and _OP_KEYWORD.search(node.value)
            ):
                return True
    return False


def _call_site_bindings(
    index: _ModuleIndex, module: str, tree: ast.Module, func: ast.FunctionDef
) -> list[dict[str, list[Any]]]:
    """Parameter values of `func` at each call site in its module (constants only)."""
    args = func.args
    positional = [a.arg for a in args.posonlyargs + args.args]
    defaults: dict[str, ast.expr] = dict(
        zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True)
    )
    defaults.update(
        {a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None}
    )
    module_scope = _Scope(index, module, parent=None, env={})
    bindings: list[dict[str, list[Any]]] = [{}]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func
        is_method_call = isinstance(callee, ast.Attribute)
        name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", None)
        if name != func.name:
            continue
        params = positional
        if is_method_call and params and params[0] in {"self", "cls"}:
            params = params[1:]
        binding: dict[str, list[Any]] = {p: module_scope.ev(d) for p, d in defaults.items()}
        for param, arg in zip(params, node.args, strict=False):
            binding[param] = module_scope.ev(arg)
        for kw in node.keywords:
            if kw.arg:
                binding[kw.arg] = module_scope.ev(kw.value)
        # Alternatives per call site are combined only within that call site.
        keys = list(binding)
        for combo in itertools.islice(
            itertools.product(*(binding[k] for k in keys)), _MAX_ALTERNATIVES
        ):
            bindings.append({k: [v] for k, v in zip(keys, combo, strict=True)})
    return bindings


def extract_python_documents(package_dir: Path | None = None) -> list[ClientDocument]:
    """Operation documents built by the wandb Python sources (all `if` variants)."""
    root = package_dir or wandb_package_dir()
    index = _ModuleIndex(root)
    seen: set[str] = set()
    out: list[ClientDocument] = []
    for path in sorted(root.rglob("*.py")):
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if not _OP_IN_TEXT.search(source):
            continue
        module = _ModuleIndex.module_name(path, root)
        tree = index.tree(module)
        if tree is None:
            continue
        runners = [_FunctionRunner(index, module, tree.body)]
        for n in ast.walk(tree):
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if not _mentions_operation(n.body):
                    continue
                bindings = (
                    _call_site_bindings(index, module, tree, n)
                    if isinstance(n, ast.FunctionDef)
                    else None
                )
                runners.append(_FunctionRunner(index, module, n.body, bindings))
        rel = path.relative_to(root).as_posix()
        for runner in runners:
            if not _mentions_operation(runner.body):
                continue
            for line, text in runner.strings():
                names = _operation_names(text)
                if not names:
                    continue
                norm = normalize(text)
                if norm in seen:
                    continue
                seen.add(norm)
                out.extend(ClientDocument(f"py:{rel}:{line}", n, text) for n in names)
    return out


@functools.cache
def installed_client_documents() -> tuple[ClientDocument, ...]:
    """Every parseable operation document of the installed wandb (Python + wandb-core)."""
    return tuple(extract_python_documents() + extract_core_documents())


def wandb_documents() -> list[tuple[str, str, str]]:
    """(source_label, operation_name, document_text) for the installed client."""
    return [(d.source, d.operation_name, d.text) for d in installed_client_documents()]


# --------------------------------------------------------------------------- capture.jsonl


@dataclass(frozen=True)
class CapturedQuery:
    seq: int
    operation_name: str
    text: str
    variables: dict[str, Any] | None


def capture_available(path: Path = CAPTURE_PATH) -> bool:
    return path.is_file()


def captured_requests(path: Path = CAPTURE_PATH) -> list[dict[str, Any]]:
    """All GraphQL requests of the capture (skips the calling test if it is missing)."""
    if not path.is_file():
        import pytest

        pytest.skip(f"protocol capture not found: {path}")
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            record = json.loads(line)
            if isinstance(record.get("gql"), dict):
                out.append(record)
    return out


def captured_operation_names(path: Path = CAPTURE_PATH) -> set[str]:
    """Operation names (as written in the documents) of every captured request."""
    names = set()
    for record in captured_requests(path):
        gql = record["gql"]
        name = gql.get("op_name_in_doc") or gql.get("operationName")
        if name:
            names.add(name)
    return names


_ELIDED_ITEMS = re.compile(r"^\.\.\.<\d+ more items>$")


def _drop_elided_items(value: Any) -> Any:
    """Remove the recorder's "...<N more items>" placeholders from lists."""
    if isinstance(value, dict):
        return {k: _drop_elided_items(v) for k, v in value.items()}
    if isinstance(value, list):
        return [
            _drop_elided_items(v)
            for v in value
            if not (isinstance(v, str) and _ELIDED_ITEMS.match(v))
        ]
    return value


@dataclass(frozen=True)
class CapturedExchange:
    """One recorded GraphQL request with its (possibly truncated) query text."""

    seq: int
    operation_name: str
    text: str  # "same as seq N" already resolved
    truncated: bool
    variables: dict[str, Any] | None
    data: dict[str, Any] | None

    @property
    def id(self) -> str:
        return f"{self.seq}-{self.operation_name}"

    def prefix_tokens(self) -> list[str]:
        """Tokens of the recorded text; for a truncated text, the complete ones."""
        if not self.truncated:
            return tokens(self.text)
        head = self.text.split("...<truncated", 1)[0]
        return tokens(head)[:-1]  # the last token may be cut in the middle


def captured_exchanges(path: Path = CAPTURE_PATH) -> list[CapturedExchange]:
    """Every captured GraphQL request (placeholders resolved / removed)."""
    by_seq: dict[int, str] = {}
    out = []
    for record in captured_requests(path):
        gql = record["gql"]
        seq = int(record.get("seq", -1))
        text = gql.get("query") or ""
        same = re.fullmatch(r"<same query text as seq (\d+)>", text.strip())
        if same:
            text = by_seq.get(int(same.group(1)), text)
        by_seq[seq] = text
        name = gql.get("op_name_in_doc") or gql.get("operationName") or ""
        response = record.get("response")
        data = response.get("data") if isinstance(response, dict) else None
        out.append(
            CapturedExchange(
                seq=seq,
                operation_name=name,
                text=text,
                truncated="...<truncated" in text,
                variables=_drop_elided_items(gql.get("variables")),
                data=_drop_elided_items(data),
            )
        )
    return out


def captured_full_queries(path: Path = CAPTURE_PATH) -> list[CapturedQuery]:
    """Captured query texts that the recorder did not truncate or elide ("same as seq N")."""
    out = []
    for record in captured_requests(path):
        gql = record["gql"]
        text = gql.get("query") or ""
        if "<truncated" in text or text.startswith("<same query text"):
            continue
        names = _operation_names(text)
        if not names:
            continue
        out.append(CapturedQuery(record.get("seq", -1), names[0], text, gql.get("variables")))
    return out
