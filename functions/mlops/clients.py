"""The one place AWS clients are made.

Standard retry mode everywhere, and nothing local-specific: botocore itself honours
`AWS_ENDPOINT_URL`, so the same code talks to AWS, to moto in-process and to moto's server.
Clients are cached (one per service per process) because creating one costs milliseconds;
`reset_clients()` drops the cache for tests that switch endpoints.

botocore clients, not boto3's: they are the same client objects (boto3 adds a session wrapper,
resources and S3's managed transfers, none of which this project uses), and importing boto3
pulls in s3transfer, ~130 ms of the predict function's cold start (benchmarks/).
"""

from __future__ import annotations

import gzip
import os
from functools import cache
from typing import Any

import botocore.session
import orjson
from botocore.config import Config
from botocore.loaders import JSONFileLoader

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30
)


class OrjsonFileLoader(JSONFileLoader):
    """botocore's data files (service models, endpoint rules), parsed with orjson.

    botocore parses them with `json.loads(object_pairs_hook=OrderedDict)`, the standard
    library's slow path: about half of creating the predict function's two clients, ~50 ms of
    its cold start (benchmarks/). Same files, same lookup order (.json, then .json.gz), plain
    dicts (ordered, as botocore expects); tests/unit/test_clients.py checks the models match.
    """

    OPENERS = ((".json", open), (".json.gz", gzip.open))

    def load_file(self, file_path: str) -> Any:
        for extension, opener in self.OPENERS:
            full_path = file_path + extension
            if os.path.isfile(full_path):
                with opener(full_path, "rb") as handle:
                    return orjson.loads(handle.read())
        return None


@cache
def _session() -> botocore.session.Session:
    # One session per process: each new session re-reads botocore's endpoint and service
    # JSON, about 150 ms of a cold start (benchmarks/results/latest.md).
    session = botocore.session.get_session()
    session.get_component("data_loader").file_loader = OrjsonFileLoader()
    return session


@cache
def client(service: str) -> Any:
    """A cached client for `service` with the standard retry mode."""
    return _session().create_client(service, config=_CONFIG)


@cache
def s3_presigner() -> Any:
    """An S3 client for pre-signed URLs, with SigV4 (`X-Amz-Expires`, at most 7 days): left
    to itself botocore signs a us-east-1 GET URL with the legacy query scheme (`Expires=`)."""
    return _session().create_client("s3", config=_CONFIG.merge(Config(signature_version="s3v4")))


def reset_clients() -> None:
    """Forget cached clients (tests switch between moto backends and endpoints)."""
    client.cache_clear()
    s3_presigner.cache_clear()
    _session.cache_clear()
