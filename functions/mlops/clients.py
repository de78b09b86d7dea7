"""The one place boto3 clients are made.

Standard retry mode everywhere, and nothing local-specific: boto3 itself honours
`AWS_ENDPOINT_URL`, so the same code talks to AWS, to moto in-process and to moto's server.
Clients are cached (one per service per process) because creating one costs milliseconds;
`reset_clients()` drops the cache for tests that switch endpoints.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30
)


@cache
def _session() -> boto3.session.Session:
    # One session per process: each new session re-reads botocore's endpoint and service
    # JSON, about 150 ms of a cold start (benchmarks/results/latest.md).
    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    """A cached boto3 client for `service` with the standard retry mode."""
    return _session().client(service, config=_CONFIG)


def reset_clients() -> None:
    """Forget cached clients (tests switch between moto backends and endpoints)."""
    client.cache_clear()
    _session.cache_clear()
