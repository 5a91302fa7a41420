"""The Terraform modules, parsed with python-hcl2: the seed's inputs and outputs exist, and
the security properties hold (KMS everywhere, scoped queue policy, TLS-only bucket, CIDRs on
the load balancer, nothing open to 0.0.0.0/0 by default)."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytest.importorskip("hcl2", reason="python-hcl2 is installed by scripts/deploy-checks")

from tests.deploy.conftest import TERRAFORM  # noqa: E402
from tests.deploy.hcl import Module, as_list, load_module, statements  # noqa: E402

SEED_INFRA_INPUTS = {
    "namespace", "domain_name", "subdomain", "zone_id", "allowed_inbound_cidr",
    "allowed_inbound_ipv6_cidr", "public_access", "external_dns", "kubernetes_public_access",
    "kubernetes_public_access_cidrs", "create_elasticache_subnet", "use_internal_queue",
}
SEED_INFRA_OUTPUTS = {
    "cluster_id", "url", "bucket_name", "bucket_region", "bucket_queue",
    "database_connection_string", "redis_connection_string", "kms_key_arn",
}
SEED_APP_INPUTS = {
    "license", "host", "bucket", "bucket_aws_region", "bucket_queue",
    "database_connection_string", "redis", "runyard_version", "replicas", "resources",
}
SEED_EXAMPLE_VARIABLES = {
    "namespace", "domain_name", "subdomain", "license", "zone_id", "allowed_inbound_cidr",
    "allowed_inbound_ipv6_cidr",
}
KEY = "${aws_kms_key.main.arn}"


@pytest.fixture(scope="module")
def infra() -> Module:
    return load_module(TERRAFORM / "aws")


@pytest.fixture(scope="module")
def app() -> Module:
    return load_module(TERRAFORM / "kubernetes")


@pytest.fixture(scope="module")
def example() -> Module:
    return load_module(TERRAFORM / "examples" / "public-dns-external")


# -- structure --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["aws", "kubernetes", "examples/public-dns-external",
                                  "aws/modules/naming", "kubernetes/modules/values"])
def test_standard_module_layout(name: str) -> None:
    path = TERRAFORM / name
    for file in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
        assert (path / file).is_file(), f"{name}/{file} is missing"
    module = load_module(path)
    required = [t.get("required_version") for t in module.terraform]
    assert any(r and r.startswith(">=") for r in required), f"{name}: pin required_version"
    for var, body in module.variables.items():
        assert body.get("description"), f"{name}: variable {var} has no description"
        assert body.get("type"), f"{name}: variable {var} has no type"
    for out, body in module.outputs.items():
        assert body.get("description"), f"{name}: output {out} has no description"


def test_infra_module_has_the_seed_inputs(infra: Module) -> None:
    missing = SEED_INFRA_INPUTS - set(infra.variables)
    assert not missing, f"deploy/terraform/aws lacks the seed's inputs {sorted(missing)}"
    assert "tags" in infra.variables
    required = {v for v, body in infra.variables.items() if "default" not in body}
    assert required == {"namespace", "domain_name", "zone_id", "allowed_inbound_cidr",
                        "allowed_inbound_ipv6_cidr"}
    for cidrs in ("allowed_inbound_cidr", "allowed_inbound_ipv6_cidr"):
        assert infra.variables[cidrs]["nullable"] is False, f"{cidrs} is mandatory in the seed"


def test_infra_module_has_the_seed_outputs(infra: Module) -> None:
    missing = SEED_INFRA_OUTPUTS - set(infra.outputs)
    assert not missing, f"deploy/terraform/aws lacks the seed's outputs {sorted(missing)}"
    for secret in ("database_connection_string", "redis_connection_string"):
        assert infra.outputs[secret].get("sensitive") is True, f"{secret} must be sensitive"


def test_app_module_has_the_seed_inputs(app: Module) -> None:
    missing = SEED_APP_INPUTS - set(app.variables)
    assert not missing, f"deploy/terraform/kubernetes lacks {sorted(missing)}"
    for secret in ("license", "database_connection_string", "redis"):
        assert app.variables[secret].get("sensitive") is True, f"{secret} must be sensitive"
    release = app.resource("helm_release", "runyard")
    assert "helm/runyard" in release["chart"]
    assert release["atomic"] is True
    assert release["wait"] is True


def test_app_module_passes_secrets_by_reference(app: Module) -> None:
    connection = app.resource("kubernetes_secret_v1", "connection")
    assert "database-url" in connection["data"]
    values = app.modules["values"]
    assert values["connection_secret"] == "${local.connection_secret}"
    chart_values = (TERRAFORM / "kubernetes" / "modules" / "values" / "main.tf").read_text()
    assert "existingSecret" in chart_values
    assert not re.search(r"\burl\s*=\s*local\.database_url", chart_values)


def test_example_is_the_seeds_recommended_deployment(example: Module) -> None:
    path = TERRAFORM / "examples" / "public-dns-external"
    assert (path / "terraform.tfvars.example").is_file()
    assert SEED_EXAMPLE_VARIABLES <= set(example.variables)
    infra = example.modules["runyard_infra"]
    assert infra["source"] == "../../aws"
    for seed_input in ("namespace", "domain_name", "subdomain", "zone_id",
                       "allowed_inbound_cidr", "allowed_inbound_ipv6_cidr"):
        assert infra[seed_input] == f"${{var.{seed_input}}}"
    assert infra["public_access"] is True
    assert infra["external_dns"] is True
    assert infra["kubernetes_public_access"] is True
    # The seed's optional components are toggles.
    assert infra["create_elasticache_subnet"] == "${var.enable_redis}"
    assert infra["use_internal_queue"] == "${!var.enable_external_queue}"

    app = example.modules["runyard_app"]
    assert app["source"] == "../../kubernetes"
    assert app["host"] == "${module.runyard_infra.url}"
    assert app["bucket"] == "s3://${module.runyard_infra.bucket_name}"
    assert app["bucket_aws_region"] == "${module.runyard_infra.bucket_region}"
    assert app["database_connection_string"] == (
        "mysql://${module.runyard_infra.database_connection_string}")
    assert app["depends_on"] == ["${module.runyard_infra}"]
    assert {"bucket_name", "url"} <= set(example.outputs)
    assert {"kubernetes", "helm"} <= set(example.providers)


def test_tfvars_example_sets_only_declared_variables(example: Module) -> None:
    import hcl2

    path = TERRAFORM / "examples" / "public-dns-external" / "terraform.tfvars.example"
    with path.open() as handle:
        values = hcl2.load(handle)
    assert SEED_EXAMPLE_VARIABLES <= set(values)
    values.pop("__comments__", None)
    undeclared = set(values) - set(example.variables)
    assert not undeclared, f"terraform.tfvars.example sets undeclared {sorted(undeclared)}"


# -- encryption -------------------------------------------------------------------------


def test_one_rotating_kms_key(infra: Module) -> None:
    key = infra.resource("aws_kms_key", "main")
    assert key["enable_key_rotation"] is True
    assert key["policy"].startswith("${jsonencode(")


def test_bucket_is_encrypted_with_the_key(infra: Module) -> None:
    sse = infra.resource("aws_s3_bucket_server_side_encryption_configuration", "files")
    default = sse["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert default["sse_algorithm"] == "aws:kms"
    assert default["kms_master_key_id"] == KEY


def test_queues_are_encrypted_with_the_key(infra: Module) -> None:
    queues = infra.of_type("aws_sqs_queue")
    assert set(queues) == {"file_events", "file_events_dlq"}
    for name, queue in queues.items():
        assert queue["kms_master_key_id"] == KEY, f"queue {name} is not encrypted with the key"


def test_database_is_encrypted_and_its_password_kept_in_secrets_manager(infra: Module) -> None:
    db = infra.resource("aws_rds_cluster", "main")
    assert db["engine"] == "aurora-mysql"
    assert infra.variables["database_engine_version"]["default"].startswith("8.0.mysql_aurora.3.")
    assert db["storage_encrypted"] is True
    assert db["kms_key_id"] == KEY
    assert db["manage_master_user_password"] is True
    assert db["master_user_secret_kms_key_id"] == KEY
    assert "master_password" not in db
    for name, instance in infra.of_type("aws_rds_cluster_instance").items():
        assert instance["publicly_accessible"] is False, name
        assert instance["performance_insights_kms_key_id"] == KEY


def test_database_parameters_suit_the_app(infra: Module) -> None:
    group = infra.resource("aws_rds_cluster_parameter_group", "main")
    assert group["family"] == "aurora-mysql8.0"
    parameters = group["dynamic"][0]["parameter"]["for_each"]
    assert parameters["binlog_format"] == "ROW"
    assert parameters["character_set_server"] == "utf8mb4"
    assert parameters["collation_server"] == "utf8mb4_unicode_ci"
    assert group["dynamic"][0]["parameter"]["content"][0]["apply_method"] == "pending-reboot"


def test_redis_uses_tls_an_auth_token_and_the_key(infra: Module) -> None:
    redis = infra.resource("aws_elasticache_replication_group", "main")
    assert redis["transit_encryption_enabled"] is True
    assert redis["at_rest_encryption_enabled"] is True
    assert redis["kms_key_id"] == KEY
    assert redis["auth_token"] == "${random_password.redis_auth[0].result}"
    assert redis["count"] == "${var.create_elasticache_subnet ? 1 : 0}"


def test_kubernetes_secrets_and_logs_are_encrypted(infra: Module) -> None:
    cluster = infra.resource("aws_eks_cluster", "main")
    assert cluster["encryption_config"][0]["provider"][0]["key_arn"] == KEY
    for name, group in infra.of_type("aws_cloudwatch_log_group").items():
        assert group["kms_key_id"] == KEY, f"log group {name} is not encrypted"


# -- bucket and queue -------------------------------------------------------------------


def test_bucket_is_private_and_tls_only(infra: Module) -> None:
    block = infra.resource("aws_s3_bucket_public_access_block", "files")
    for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                 "restrict_public_buckets"):
        assert block[flag] is True, flag
    policy = infra.resource("aws_s3_bucket_policy", "files")
    assert policy["policy"] == "${data.aws_iam_policy_document.files_bucket.json}"
    denies = [s for s in statements(infra.policy("files_bucket")) if s["effect"] == "Deny"]
    tls = [s for s in denies
           if any(c["variable"] == "aws:SecureTransport" and c["values"] == ["false"]
                  for c in s["condition"])]
    assert tls, "the bucket policy must deny requests without TLS"
    assert set(tls[0]["resources"]) == {"${aws_s3_bucket.files.arn}",
                                        "${aws_s3_bucket.files.arn}/*"}


def test_bucket_cors_allows_the_apps_origin(infra: Module) -> None:
    rule = infra.resource("aws_s3_bucket_cors_configuration", "files")["cors_rule"][0]
    assert rule["allowed_origins"] == ["${local.url}"]
    assert set(rule["allowed_methods"]) == {"GET", "PUT", "HEAD"}


def test_bucket_notifies_the_queue_of_new_objects(infra: Module) -> None:
    notification = infra.resource("aws_s3_bucket_notification", "files")
    queue = notification["queue"][0]
    assert queue["queue_arn"] == "${aws_sqs_queue.file_events[0].arn}"
    assert queue["events"] == ["s3:ObjectCreated:*"]
    assert notification["count"] == "${var.use_internal_queue ? 0 : 1}"


def test_queue_policy_lets_only_this_bucket_send(infra: Module) -> None:
    policy = infra.resource("aws_sqs_queue_policy", "file_events")
    assert policy["policy"] == "${data.aws_iam_policy_document.file_events[0].json}"
    allows = [s for s in statements(infra.policy("file_events")) if s["effect"] == "Allow"]
    assert len(allows) == 1
    allow = allows[0]
    assert allow["actions"] == ["sqs:SendMessage"]
    assert allow["resources"] == ["${aws_sqs_queue.file_events[0].arn}"]
    principal = allow["principals"][0]
    assert principal == {"type": "Service", "identifiers": ["s3.amazonaws.com"]}
    source = [c for c in allow["condition"] if c["variable"] == "aws:SourceArn"]
    assert source
    assert source[0]["test"] == "ArnEquals"
    assert source[0]["values"] == ["${aws_s3_bucket.files.arn}"]


# -- identity ---------------------------------------------------------------------------


def test_app_role_trusts_only_the_apps_service_accounts(infra: Module) -> None:
    trust = statements(infra.policy("app_assume"))[0]
    assert trust["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    subjects = [c for c in trust["condition"] if c["variable"].endswith(":sub")]
    assert subjects
    assert subjects[0]["test"] == "StringEquals"
    assert subjects[0]["values"] == "${local.app_service_accounts}"


def test_app_role_reaches_only_this_bucket_queue_key_and_secret(infra: Module) -> None:
    allowed = {"${aws_s3_bucket.files.arn}", "${aws_s3_bucket.files.arn}/*", KEY,
               "${aws_rds_cluster.main.master_user_secret[0].secret_arn}", "${statement.value}"}
    policy = infra.policy("app")
    resources = [r for s in statements(policy) for r in as_list(s["resources"])]
    queue = policy["dynamic"][0]["statement"]
    assert queue["for_each"] == (
        "${var.use_internal_queue ? [] : [aws_sqs_queue.file_events[0].arn]}")
    resources += as_list(queue["content"][0]["resources"])
    assert set(resources) <= allowed, set(resources) - allowed
    assert "*" not in resources


# -- network exposure -------------------------------------------------------------------


def test_load_balancer_admits_only_the_allowed_cidrs(infra: Module) -> None:
    rules = infra.of_type("aws_vpc_security_group_ingress_rule")
    alb_group = "${aws_security_group.alb.id}"
    alb = {n: r for n, r in rules.items() if r["security_group_id"] == alb_group}
    assert set(alb) == {"alb_ipv4", "alb_ipv6"}
    assert alb["alb_ipv4"]["cidr_ipv4"] == "${each.value.cidr}"
    assert alb["alb_ipv6"]["cidr_ipv6"] == "${each.value.cidr}"
    assert "var.allowed_inbound_cidr" in infra.locals["alb_ingress_ipv4"]
    assert "var.allowed_inbound_ipv6_cidr" in infra.locals["alb_ingress_ipv6"]
    ingress = infra.outputs["ingress"]["value"]
    assert ingress["security_group_ids"] == ["${aws_security_group.alb.id}"]
    assert ingress["inbound_cidrs"] == "${var.allowed_inbound_cidr}"
    assert ingress["inbound_ipv6_cidrs"] == "${var.allowed_inbound_ipv6_cidr}"


@pytest.mark.parametrize(("group", "variable"), [("database", "database_allowed_cidr_blocks"),
                                                 ("redis", "redis_allowed_cidr_blocks")])
def test_database_and_redis_are_not_open_by_default(infra: Module, group: str,
                                                    variable: str) -> None:
    assert infra.variables[variable]["default"] == []
    validation = infra.variables[variable]["validation"][0]["condition"]
    assert "/0" in validation
    ref = f"${{aws_security_group.{group}.id}}"
    ref_counted = f"${{aws_security_group.{group}[0].id}}"
    rules = [r for r in infra.of_type("aws_vpc_security_group_ingress_rule").values()
             if r["security_group_id"] in (ref, ref_counted)]
    assert len(rules) == 2
    for rule in rules:
        cidr = rule.get("cidr_ipv4")
        assert cidr in (None, "${each.value}")
        assert "cidr_ipv6" not in rule
        if cidr is None:
            assert rule["referenced_security_group_id"] == "${local.cluster_sg_id}"
        else:
            assert variable in rule["for_each"]


def _literal_cidrs(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value in ("0.0.0.0/0", "::/0") else []
    if isinstance(value, list):
        return [c for v in value for c in _literal_cidrs(v)]
    if isinstance(value, dict):
        return [c for v in value.values() for c in _literal_cidrs(v)]
    return []


def test_no_variable_defaults_to_the_whole_internet(infra: Module, app: Module) -> None:
    for module in (infra, app):
        for name, body in module.variables.items():
            assert not _literal_cidrs(body.get("default")), f"{name} defaults to the internet"


def test_eks_api_is_private_unless_asked(infra: Module) -> None:
    assert infra.variables["kubernetes_public_access"]["default"] is False
    assert infra.variables["kubernetes_public_access_cidrs"]["default"] == []
    vpc = infra.resource("aws_eks_cluster", "main")["vpc_config"][0]
    assert vpc["endpoint_private_access"] is True
    assert vpc["endpoint_public_access"] == "${var.kubernetes_public_access}"
