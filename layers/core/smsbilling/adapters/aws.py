"""boto3 clients, built once per process (Lambda reuses them across invocations).

The endpoint comes from the SDK's own configuration (``AWS_ENDPOINT_URL`` for the local cloud),
so the same code runs against AWS, the local cloud and DynamoDB Local.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, cast

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)


@cache
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=_CONFIG)


@cache
def sqs() -> SQSClient:
    return boto3.client("sqs", config=_CONFIG)


# SQS long polls hold the connection up to 20 s (WaitTimeSeconds). A receive the client gives up on
# may already have taken messages, which then stay invisible for their visibility timeout: the read
# timeout leaves a slow endpoint three times the wait to answer.
_LONG_POLL_CONFIG = _CONFIG.merge(Config(read_timeout=60, max_pool_connections=32))


@cache
def sqs_long_poll() -> SQSClient:
    """For consumers that long-poll (the bridge's outbound queue): read timeout above the 20 s wait."""
    return boto3.client("sqs", config=_LONG_POLL_CONFIG)


@cache
def s3() -> S3Client:
    return boto3.client("s3", config=_CONFIG)


class SnsClient(Protocol):
    """The one call used of ``boto3.client("sns")`` (no sns stubs in the project's pins)."""

    def publish(self, **kwargs: Any) -> Any: ...


# Staff notifications go out from the message processors: a slow SNS must not hold a batch long.
_SNS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=3)


@cache
def sns() -> SnsClient:
    return cast(SnsClient, boto3.client("sns", config=_SNS_CONFIG))
