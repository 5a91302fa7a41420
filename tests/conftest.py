"""Session services shared by every test package, each started only when a test asks for it.

``seaweedfs`` (a real S3 server) and ``moto`` (S3, SQS, KMS, Secrets Manager) come from pip
packages of the test extra, so failing to start them is an error, locally as on CI.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    AwsService,
    start_moto,
    start_seaweedfs,
)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsService]:
    service = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsService]:
    service = start_moto(tmp_path_factory.mktemp("moto"))
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Test credentials and region in the environment, where boto3 finds them (moto and
    SeaweedFS accept the same ones); no profile or session token from the machine leaks in."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                 "AWS_ENDPOINT_URL_SQS", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    return monkeypatch
