"""The Helm chart: render and lint (helm-python-sdk), validate against Kubernetes 1.31
schemas (kubernetes-validate --strict), and check what the deployment depends on."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("helm_python", reason="helm-python-sdk is installed by scripts/deploy-checks")

from tests.deploy.chart import (  # noqa: E402
    KUBE_VERSION,
    as_yaml,
    find,
    load_values,
    manifests,
    render,
    scenarios,
)
from tests.deploy.conftest import CHART  # noqa: E402

S3_SQS_REDIS = CHART / "ci" / "s3-sqs-redis-values.yaml"
SECRET_NAMES = ("SECRET_KEY", "ADMIN_API_KEY", "LICENSE", "PASSWORD", "TOKEN", "CACHE_URL")


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container["env"]}


@pytest.fixture(scope="module")
def aws_docs() -> list[dict[str, Any]]:
    return manifests(load_values(S3_SQS_REDIS))


@pytest.fixture(scope="module")
def default_docs() -> list[dict[str, Any]]:
    return manifests({})


def test_scenarios_are_default_and_s3_sqs_redis() -> None:
    assert {p.name for p in scenarios()} == {"default-values.yaml", "s3-sqs-redis-values.yaml"}


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda p: p.stem)
def test_lint_is_clean(scenario: Path) -> None:
    import helm_python

    report = helm_python.lint(str(CHART), load_values(scenario), strict=True,
                              kube_version=f"v{KUBE_VERSION}")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not report["errors"], report
    assert not problems, problems


@pytest.mark.parametrize("scenario", scenarios(), ids=lambda p: p.stem)
def test_manifests_pass_kubernetes_validate_strict(scenario: Path, tmp_path: Path) -> None:
    docs = manifests(load_values(scenario))
    rendered = tmp_path / f"{scenario.stem}.yaml"
    rendered.write_text(as_yaml(docs))
    tool = shutil.which("kubernetes-validate", path=str(Path(sys.executable).parent))
    assert tool, "kubernetes-validate is not installed next to this Python"
    result = subprocess.run([tool, "-k", KUBE_VERSION, "--strict", "--quiet", str(rendered)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_default_is_one_replica_on_sqlite(default_docs: list[dict[str, Any]]) -> None:
    deployment = find(default_docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    kinds = {d["kind"] for d in default_docs}
    assert not kinds & {"Job", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress"}
    env = _env(deployment["spec"]["template"]["spec"]["containers"][0])
    assert "RUNYARD_DATABASE_URL" not in env
    assert env["RUNYARD_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "runyard"
    assert find(default_docs, "Secret", "runyard")["metadata"]["annotations"] == {
        "helm.sh/resource-policy": "keep"}


@pytest.mark.parametrize("fixture", ["default_docs", "aws_docs"])
def test_pods_are_locked_down(fixture: str, request: pytest.FixtureRequest) -> None:
    docs = request.getfixturevalue(fixture)
    pods = [find(docs, "Deployment")["spec"]["template"]["spec"]]
    pods += [d["spec"]["template"]["spec"] for d in docs if d["kind"] == "Job"]
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        writable = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        assert writable == {"/data", "/tmp"}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert container["resources"]["limits"]


def test_probes(aws_docs: list[dict[str, Any]]) -> None:
    container = find(aws_docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]


def test_aws_settings_reach_the_server(aws_docs: list[dict[str, Any]]) -> None:
    container = find(aws_docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["server"]
    env = _env(container)
    plain = {k: v.get("value") for k, v in env.items()}
    assert plain["RUNYARD_HOST"] == "0.0.0.0"  # noqa: S104 (inside the pod)
    assert plain["RUNYARD_PORT"] == "8080"
    assert plain["RUNYARD_MIGRATE"] == "false"
    assert plain["RUNYARD_BLOB_STORE_URL"].startswith("s3://")
    assert plain["RUNYARD_BLOB_STORE_REGION"] == "eu-central-1"
    assert plain["RUNYARD_BLOB_STORE_KMS_KEY"].startswith("arn:aws:kms:")
    assert plain["RUNYARD_QUEUE_URL"] == "sqs://runyard-file-events"
    assert plain["RUNYARD_DATABASE_URL"].startswith("mysql://runyard@")
    assert plain["RUNYARD_DATABASE_PASSWORD_SECRET"].startswith("arn:aws:secretsmanager:")
    assert plain["RUNYARD_PUBLIC_URL"] == "https://runyard-aws.example.com"
    assert env["RUNYARD_CACHE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "runyard-cache"
    # Idle connections outlive the ALB's idle timeout (and Go clients' 90 s).
    assert plain["RUNYARD_KEEP_ALIVE_TIMEOUT"] == "120"


def test_keep_alive_follows_a_longer_alb_idle_timeout() -> None:
    values = load_values(S3_SQS_REDIS)
    values["ingress"]["alb"]["idleTimeoutSeconds"] = 900
    container = find(manifests(values), "Deployment")["spec"]["template"]["spec"][
        "containers"][0]
    assert _env(container)["RUNYARD_KEEP_ALIVE_TIMEOUT"]["value"] == "905"


@pytest.mark.parametrize("fixture", ["default_docs", "aws_docs"])
def test_secrets_only_by_reference(fixture: str, request: pytest.FixtureRequest) -> None:
    docs = request.getfixturevalue(fixture)
    for doc in docs:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            for name, entry in _env(container).items():
                if any(s in name for s in SECRET_NAMES) and not name.endswith("_SECRET"):
                    assert "valueFrom" in entry, f"{doc['kind']} sets {name} inline"


def test_no_secret_object_when_secrets_exist(aws_docs: list[dict[str, Any]]) -> None:
    assert not [d for d in aws_docs if d["kind"] == "Secret"]


def test_migration_job_is_a_pre_install_and_pre_upgrade_hook(
        aws_docs: list[dict[str, Any]]) -> None:
    job = find(aws_docs, "Job", "runyard-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    spec = job["spec"]["template"]["spec"]
    assert spec["containers"][0]["args"] == ["db", "upgrade"]
    assert spec["restartPolicy"] == "Never"
    assert spec["serviceAccountName"] == "runyard-migrate"
    hook_account = find(aws_docs, "ServiceAccount", "runyard-migrate")
    assert int(hook_account["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        annotations["helm.sh/hook-weight"])
    env = _env(spec["containers"][0])
    assert "RUNYARD_DATABASE_PASSWORD_SECRET" in env
    assert "RUNYARD_SECRET_KEY" not in env, "the hook runs before the release's Secrets exist"


def test_service_accounts_carry_the_irsa_role(aws_docs: list[dict[str, Any]]) -> None:
    role = "arn:aws:iam::123456789012:role/runyard-app"
    for name in ("runyard", "runyard-migrate"):
        account = find(aws_docs, "ServiceAccount", name)
        assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == role


def test_ingress_is_an_alb_limited_to_the_inbound_cidrs(aws_docs: list[dict[str, Any]]) -> None:
    ingress = find(aws_docs, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "alb"
    annotations = ingress["metadata"]["annotations"]
    prefix = "alb.ingress.kubernetes.io/"
    assert annotations[prefix + "inbound-cidrs"] == "203.0.113.0/24,2001:db8::/32"
    assert annotations[prefix + "ip-address-type"] == "dualstack"
    assert annotations[prefix + "scheme"] == "internet-facing"
    assert annotations[prefix + "target-type"] == "ip"
    assert annotations[prefix + "certificate-arn"].startswith("arn:aws:acm:")
    assert annotations[prefix + "ssl-redirect"] == "443"
    assert annotations[prefix + "healthcheck-path"] == "/ready"
    assert annotations["external-dns.alpha.kubernetes.io/hostname"] == "runyard-aws.example.com"
    assert ingress["spec"]["rules"][0]["host"] == "runyard-aws.example.com"


def test_scaling_objects(aws_docs: list[dict[str, Any]]) -> None:
    hpa = find(aws_docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "runyard"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 8)
    assert "replicas" not in find(aws_docs, "Deployment")["spec"]
    assert find(aws_docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1


@pytest.mark.parametrize(("values", "message"), [
    ({"runyard": {"database": {"url": "mysql://runyard:hunter2@db:3306/runyard"}}},
     "runyard.database.url must not contain a password"),
    ({"runyard": {"database": {"url": "postgresql://u@db/runyard?password=hunter2"}}},
     "runyard.database.url must not contain a password"),
    ({"runyard": {"cache": {"url": "rediss://:token@redis:6379"}}},
     "runyard.cache.url must not contain a password"),
    ({"runyard": {"extraEnv": [{"name": "MYSQL", "value": "mysql://u:p@db/x"}]}},
     "looks secret"),
    ({"runyard": {"extraEnv": [{"name": "RUNYARD_SECRET_KEY", "value": "x" * 40}]}},
     "looks secret"),
    ({"runyard": {"extraEnv": [{"name": "SOME_URL", "value": "https://a:b@example.com"}]}},
     "must not contain a password"),
    ({"runyard": {"database": {"password": "hunter2"}}}, "password"),
    ({"runyard": {"adminApiKey": "local-" + "a" * 40}}, "adminApiKey"),
    ({"runyard": {"license": {"value": "xxxx"}}}, "value"),
])
def test_inline_passwords_fail_rendering(values: dict[str, Any], message: str) -> None:
    import helm_python

    with pytest.raises((helm_python.HelmRenderError, helm_python.HelmValuesError)) as failure:
        render(values)
    assert message in str(failure.value)


@pytest.mark.parametrize("values", [
    {"replicaCount": 2},
    {"autoscaling": {"enabled": True}},
    {"replicaCount": 2, "runyard": {"database": {"url": "mysql://u@db:3306/x"}}},
    {"ingress": {"enabled": True}},
])
def test_unsafe_combinations_fail_rendering(values: dict[str, Any]) -> None:
    import helm_python

    with pytest.raises(helm_python.HelmRenderError):
        render(values)


def test_references_and_passwordless_urls_render() -> None:
    docs = manifests({
        "runyard": {
            "database": {"url": "mysql://runyard@db:3306/runyard", "passwordSecret": "rds!x"},
            "cache": {"url": "rediss://redis:6379"},
            "extraEnv": [{"name": "OTHER_PASSWORD_SECRET", "value": "rds!y"},
                         {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s",
                                                                          "key": "k"}}}],
        },
    })
    env = _env(find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0])
    assert env["RUNYARD_CACHE_URL"]["value"] == "rediss://redis:6379"


def test_values_schema_covers_values_yaml() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = load_values(CHART / "values.yaml")
    assert schema["additionalProperties"] is False
    assert set(values) <= set(schema["properties"])
    assert set(values["runyard"]) <= set(schema["properties"]["runyard"]["properties"])


def test_chart_metadata() -> None:
    chart = load_values(CHART / "Chart.yaml")
    assert chart["apiVersion"] == "v2"
    assert chart["kubeVersion"].startswith(">=")
    assert chart["appVersion"]
