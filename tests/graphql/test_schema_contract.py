"""Contract test: src/runyard/api/graphql/schema.graphql accepts what wandb 0.31.0 sends.

* (a) every non-truncated query text recorded in capture.jsonl validates;
* (b) every operation of the protocol surface, as extracted from the installed
  client (Python sources + wandb-core binary, every variant), validates, except
  the variants listed in EXPECTED_UNSUPPORTED (and that list must be exact);
* (c) the schema really validates (unknown fields / wrong variable types fail);
* (d) every operation name in the capture has a validated full document;
* plus: every recorded text is one of the extracted documents (so (b) checks
  what the client actually sends), and every recorded exchange replays
  (variables coerce, the recorded response fits the schema's nullability).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import pytest
from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    execute_sync,
    parse,
    validate,
)

from tests.graphql.wandb_queries import (
    REPO_ROOT,
    CapturedExchange,
    ClientDocument,
    apply_omissions,
    capture_available,
    captured_exchanges,
    captured_full_queries,
    captured_operation_names,
    installed_client_documents,
    normalize,
    tokens,
)

SCHEMA_PATH = REPO_ROOT / "src" / "runyard" / "api" / "graphql" / "schema.graphql"

# Operations runyard serves: every operation name seen in capture.jsonl (the
# probe's full scenario set, no server features advertised).
SURFACE_OPERATIONS = frozenset(
    {
        # run logging (wandb-core)
        "Viewer",
        "ServerFeaturesQuery",
        "OrganizationCoreWeaveOrganizationID",
        "UpsertBucket",
        "CreateRunFiles",
        "RunResumeStatus",
        "NotifyScriptableRunAlert",
        # artifacts (wandb-core + Python)
        "CreateArtifact",
        "CreateArtifactManifest",
        "CreateArtifactFiles",
        "CommitArtifact",
        "UseArtifact",
        "LinkArtifact",
        "ArtifactType",
        "ArtifactByID",
        "ArtifactMembershipByName",
        "FetchArtifactManifest",
        "GetArtifactMembershipFileUrls",
        # public API reads
        "Runs",
        "Run",
        "RunFullHistory",
        "RunSampledHistory",
        "RunHistoryKeys",
        "RunParquetHistory",
        "HistoryPage",
        "SampledHistoryPage",
        "RunFiles",
        "RunOutputArtifacts",
        "RunInputArtifacts",
        "GetProjects",
        "GetProject",
        "GetViewer",
        "DeleteRun",
        # artifact management through wandb.Api
        "UpdateArtifact",
        "DeleteArtifact",
        "AddAliases",
        "DeleteAliases",
        "ProjectArtifactTypes",
        "ProjectArtifactType",
        "ProjectArtifactCollections",
        "ProjectArtifactCollection",
        "ArtifactTypeArtifactCollections",
        "ProjectArtifacts",
        "ArtifactCollectionAliases",
        "ArtifactMembershipFiles",
        "ArtifactCreatedBy",
        "ArtifactUsedBy",
    }
)


@dataclass(frozen=True)
class Omissions:
    fields: frozenset[str] = frozenset()
    variables: frozenset[str] = frozenset()


# What the public API asks wandb-core to strip when the server advertises NO
# features (ServiceApi.execute_graphql(omit_fields=..., omit_variables=...)):
#   * omit_artifact_fields(): ARTIFACT_DIGEST_ALGORITHM off -> `digestAlgorithm`
#     (Artifact._from_id / _from_name, RunArtifacts, Artifact.link, ...);
#   * Artifact.link(): ARTIFACT_MEMBERSHIP_IN_LINK_ARTIFACT_RESPONSE off ->
#     `artifactMembership` and `$includeAliases`.
# Only Python-built documents go through this rewrite.
_NO_DIGEST_ALGORITHM = Omissions(fields=frozenset({"digestAlgorithm"}))
FEATURES_OFF_OMISSIONS: dict[str, Omissions] = {
    "ArtifactByID": _NO_DIGEST_ALGORITHM,
    "ArtifactMembershipByName": _NO_DIGEST_ALGORITHM,
    "RunOutputArtifacts": _NO_DIGEST_ALGORITHM,
    "LinkArtifact": Omissions(
        fields=frozenset({"digestAlgorithm", "artifactMembership"}),
        variables=frozenset({"includeAliases"}),
    ),
}

# Client document variants (ClientDocument.key) the schema deliberately does not
# accept, with the reason. Empty: the schema also accepts the feature-on
# variants (e.g. `digestAlgorithm`, `artifactMembership`, UseArtifact's
# artifactEntityName/artifactProjectName), since extra fields cost nothing.
EXPECTED_UNSUPPORTED: dict[str, str] = {}


# --------------------------------------------------------------------------- fixtures


@functools.cache
def _schema() -> GraphQLSchema:
    return build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return _schema()


@functools.cache
def surface_documents() -> tuple[ClientDocument, ...]:
    """Surface operations from the installed client, plus their features-off rewrites."""
    out: list[ClientDocument] = []
    for doc in installed_client_documents():
        if doc.operation_name not in SURFACE_OPERATIONS:
            continue
        out.append(doc)
        omissions = FEATURES_OFF_OMISSIONS.get(doc.operation_name)
        if omissions and doc.source.startswith("py:"):
            rewritten = apply_omissions(
                doc.text, fields=omissions.fields, variables=omissions.variables
            )
            if normalize(rewritten) != normalize(doc.text):
                out.append(
                    ClientDocument(doc.source, doc.operation_name, rewritten, "features-off")
                )
    return tuple(out)


def _errors(schema: GraphQLSchema, text: str) -> list[str]:
    return [e.message for e in validate(schema, parse(text))]


@functools.cache
def _validation_failures() -> dict[str, list[str]]:
    return {d.key: errs for d in surface_documents() if (errs := _errors(_schema(), d.text))}


_CAPTURE_MISSING = pytest.param(
    None, marks=pytest.mark.skip(reason="capture.jsonl not available"), id="no-capture"
)


def _full_query_params() -> list[Any]:
    if not capture_available():
        return [_CAPTURE_MISSING]
    return [pytest.param(q, id=f"{q.seq}-{q.operation_name}") for q in captured_full_queries()]


def _exchange_params(*, distinct_texts: bool) -> list[Any]:
    if not capture_available():
        return [_CAPTURE_MISSING]
    exchanges = captured_exchanges()
    if distinct_texts:
        seen: set[str] = set()
        unique = []
        for ex in exchanges:
            if ex.text not in seen:
                seen.add(ex.text)
                unique.append(ex)
        exchanges = unique
    return [pytest.param(ex, id=ex.id) for ex in exchanges]


def _matching_documents(exchange: CapturedExchange) -> list[ClientDocument]:
    """Extracted surface documents that the recorded (maybe truncated) text matches.

    The capture was made with no server features advertised, so features-off
    variants come first.
    """
    candidates = sorted(
        (d for d in surface_documents() if d.operation_name == exchange.operation_name),
        key=lambda d: d.variant != "features-off",
    )
    if not exchange.truncated:
        wanted = normalize(exchange.text)
        return [d for d in candidates if normalize(d.text) == wanted]
    prefix = exchange.prefix_tokens()
    return [d for d in candidates if tokens(d.text)[: len(prefix)] == prefix]


# --------------------------------------------------------------------------- (a)


@pytest.mark.parametrize("captured", _full_query_params())
def test_captured_query_validates(schema: GraphQLSchema, captured: Any) -> None:
    assert _errors(schema, captured.text) == []


# --------------------------------------------------------------------------- (b)


@pytest.mark.parametrize("document", surface_documents(), ids=lambda d: d.key)
def test_client_document_validates(schema: GraphQLSchema, document: ClientDocument) -> None:
    errors = _errors(schema, document.text)
    if document.key in EXPECTED_UNSUPPORTED:
        assert errors, f"{document.key} now validates: remove it from EXPECTED_UNSUPPORTED"
    else:
        assert errors == [], f"{document.source} ({document.variant or 'as written'})"


def test_expected_unsupported_is_exact() -> None:
    failing = set(_validation_failures())
    assert failing == set(EXPECTED_UNSUPPORTED), (
        f"unexpected failures: {sorted(failing - set(EXPECTED_UNSUPPORTED))}; "
        f"listed but validating or gone: {sorted(set(EXPECTED_UNSUPPORTED) - failing)}"
    )


def test_every_surface_operation_is_extracted() -> None:
    """The extractor finds every surface operation in the installed client."""
    found = {d.operation_name for d in surface_documents()}
    assert SURFACE_OPERATIONS - found == set()
    # Both halves of the client contribute.
    sources = {d.source.split(":", 1)[0] for d in surface_documents()}
    assert sources == {"py", "core"}


def test_features_off_rewrite_happens() -> None:
    """The features-off variants exist (otherwise the omission table is stale)."""
    rewritten = {d.operation_name for d in surface_documents() if d.variant == "features-off"}
    assert rewritten == set(FEATURES_OFF_OMISSIONS)


# --------------------------------------------------------------------------- (c)


def test_schema_rejects_unknown_field(schema: GraphQLSchema) -> None:
    errors = _errors(schema, "query Viewer { viewer { id noSuchField } }")
    assert errors == ["Cannot query field 'noSuchField' on type 'User'."]


def test_schema_rejects_wrong_variable_type(schema: GraphQLSchema) -> None:
    # `run(name:)` is String!, so a nullable `$name` must be refused.
    text = (
        "query RunHistoryKeys($project: String!, $entity: String!, $name: String) {"
        " project(name: $project, entityName: $entity) { run(name: $name) { historyKeys } } }"
    )
    errors = _errors(schema, text)
    assert errors == [
        "Variable '$name' of type 'String' used in position expecting type 'String!'."
    ]


def test_schema_types_the_client_relies_on(schema: GraphQLSchema) -> None:
    from graphql import GraphQLInterfaceType, GraphQLScalarType

    for name in ("JSONString", "JSON", "Int64", "Duration"):
        assert isinstance(schema.get_type(name), GraphQLScalarType), name
    collection = schema.get_type("ArtifactCollection")
    assert isinstance(collection, GraphQLInterfaceType)
    implementations = {t.name for t in schema.get_possible_types(collection)}
    assert implementations == {"ArtifactSequence", "ArtifactPortfolio"}


# --------------------------------------------------------------------------- (d)


def test_every_captured_operation_has_validated_document() -> None:
    if not capture_available():
        pytest.skip("capture.jsonl not available")
    captured = captured_operation_names()
    assert captured <= SURFACE_OPERATIONS, sorted(captured - SURFACE_OPERATIONS)
    failures = _validation_failures()
    validated = {d.operation_name for d in surface_documents() if d.key not in failures}
    assert captured - validated == set()


# --------------------------------------------------------------------------- capture vs client


@pytest.mark.parametrize("exchange", _exchange_params(distinct_texts=True))
def test_captured_text_is_an_extracted_document(exchange: CapturedExchange) -> None:
    """Each recorded query text (or truncated prefix) is one of the extracted variants."""
    assert _matching_documents(exchange), (
        f"seq {exchange.seq}: no extracted {exchange.operation_name} document matches"
    )


@pytest.mark.parametrize("exchange", _exchange_params(distinct_texts=False))
def test_captured_exchange_replays(schema: GraphQLSchema, exchange: CapturedExchange) -> None:
    """Recorded variables coerce and the recorded response fits the schema.

    The document is executed with the recorded `data` as the root value and a
    resolver that reads each response key, so graphql-core checks input
    coercion (unknown input fields, enum values, Int range) and output
    nullability / leaf serialization against what the client accepted.
    """
    documents = _matching_documents(exchange)
    assert documents, f"no extracted document for seq {exchange.seq}"
    document = parse(documents[0].text)
    op_names = [
        d.name.value
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    ]
    assert validate(schema, document) == []

    def from_response(source: Any, info: Any, **_: Any) -> Any:
        return source.get(info.path.key) if isinstance(source, dict) else None

    result = execute_sync(
        schema,
        document,
        root_value=exchange.data or {},
        variable_values=exchange.variables or {},
        operation_name=op_names[0],
        field_resolver=from_response,
    )
    errors: list[GraphQLError] = list(result.errors or [])
    assert errors == [], [f"{e.message} at {e.path}" for e in errors]
