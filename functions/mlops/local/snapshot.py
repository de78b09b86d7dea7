"""What survives a restart of `mlops local`: a snapshot of the stack's state in the state folder.

Why this mechanism (DESIGN §6): moto keeps everything in memory, and its Recorder replays
requests (a replayed PUT on a versioned bucket becomes a second object version with a new id,
and re-fires the S3 notification, so training runs again). The registry pins S3 version ids, so
the one thing a restart must keep exactly is each object version *with its id*; no API can
create an object version with a chosen id. So:

- S3 and DynamoDB (buckets with every object version and its id, the registry table) are saved
  as moto's own in-memory objects (pickle) and put back before the server answers: version ids,
  ETags, bytes and checksums are the same objects as before;
- Lambda (moto's backend holds weak references and cannot be pickled) is exported through the
  Lambda API (each published version's environment, the aliases with their routing weights) and
  re-created through it in version order, so version N pins the same model as before;
- queues, the topic, its subscription and the role are re-created by provisioning (they hold
  no state of ours); messages waiting in a queue at the moment of the stop are not kept.

The snapshot is written atomically (temporary file + rename) on stop and every few seconds
while something changed, so a SIGKILL or a reboot loses at most that interval. It is tied to
the moto version that wrote it: another version refuses to load it, with a way out.
The predict function still checks each artifact's sha256 against the registry after a restore:
a snapshot is trusted for structure, never for the bytes a model is built from.
"""

from __future__ import annotations

import copyreg
import io
import os
import pickle
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.local.provision import LOCAL_ACCOUNT

SNAPSHOT_FILE = "state.pickle"
FORMAT = 1
PICKLED_SERVICES = ("dynamodb", "s3")  # DynamoDB first: what it pins was written to S3 before


class SnapshotError(RuntimeError):
    """The saved state cannot be loaded (another moto version, a damaged file)."""


def _rebuild_versioned_store(lists: dict[str, list[Any]]) -> Any:
    from moto.s3.utils import _VersionedKeyStore

    store = _VersionedKeyStore()
    for key, versions in lists.items():
        store.setlist(key, versions)
    return store


def _reduce_versioned_store(store: Any) -> tuple[Any, tuple[dict[str, list[Any]]]]:
    # moto's key store is a dict whose items() yields only each key's latest version: pickled
    # as a plain dict subclass, every older version (the ones the registry pins) would be lost.
    return _rebuild_versioned_store, ({key: list(versions) for key, versions in store.lists()},)


def _dumps(value: Any) -> bytes:
    from moto.s3.utils import _VersionedKeyStore

    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = copyreg.dispatch_table.copy()
    pickler.dispatch_table[_VersionedKeyStore] = _reduce_versioned_store
    pickler.dump(value)
    return buffer.getvalue()


@dataclass
class Snapshot:
    moto_version: str
    services: dict[str, bytes] = field(default_factory=dict)
    functions: list[dict[str, Any]] = field(default_factory=list)


def _moto_version() -> str:
    import moto

    return str(moto.__version__)


def capture(lambda_client: Any) -> Snapshot:
    """Read the running server's state (in this process: `ThreadedMotoServer` is in-process)."""
    from moto.backends import get_backend

    snapshot = Snapshot(_moto_version())
    for service in PICKLED_SERVICES:
        backend = get_backend(service)  # type: ignore[call-overload]
        for attempt in range(5):
            try:
                snapshot.services[service] = _dumps(backend[LOCAL_ACCOUNT])
                break
            except RuntimeError:  # a request changed a dict while it was being pickled
                if attempt == 4:
                    raise
    snapshot.functions = export_functions(lambda_client)
    return snapshot


def export_functions(lambda_client: Any) -> list[dict[str, Any]]:
    """Every function's configuration, published versions (environments) and aliases."""
    exported = []
    for page in lambda_client.get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            name = function["FunctionName"]
            versions = []
            for versions_page in lambda_client.get_paginator("list_versions_by_function").paginate(
                FunctionName=name
            ):
                for version in versions_page["Versions"]:
                    if version["Version"] != "$LATEST":
                        versions.append(
                            {
                                "version": version["Version"],
                                "description": version.get("Description", ""),
                                "variables": version.get("Environment", {}).get("Variables", {}),
                            }
                        )
            versions.sort(key=lambda item: int(item["version"]))
            aliases = [
                {
                    "name": alias["Name"],
                    "version": alias["FunctionVersion"],
                    "weights": (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")
                    or {},
                }
                for alias in lambda_client.list_aliases(FunctionName=name)["Aliases"]
            ]
            exported.append(
                {
                    "name": name,
                    "runtime": function.get("Runtime", "python3.12"),
                    "handler": function.get("Handler", "handler.handler"),
                    "architectures": function.get("Architectures", ["arm64"]),
                    "memory": function.get("MemorySize", 128),
                    "timeout": function.get("Timeout", 3),
                    "variables": function.get("Environment", {}).get("Variables", {}),
                    "versions": versions,
                    "aliases": aliases,
                }
            )
    return exported


def save(snapshot: Snapshot, folder: Path) -> Path:
    """Write atomically: a crash mid-write leaves the previous snapshot, never half of one."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SNAPSHOT_FILE
    temporary = path.with_suffix(f".tmp{os.getpid()}")
    payload = {
        "format": FORMAT,
        "moto_version": snapshot.moto_version,
        "services": snapshot.services,
        "functions": snapshot.functions,
    }
    with temporary.open("wb") as handle:
        handle.write(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
        handle.flush()
        os.fsync(handle.fileno())
    temporary.chmod(0o600)
    temporary.replace(path)
    return path


def load(folder: Path) -> Snapshot | None:
    """The saved snapshot, None if there is none; SnapshotError if it cannot be used."""
    path = folder / SNAPSHOT_FILE
    if not path.is_file():
        return None
    reset_hint = "start with `mlops local --reset` to begin empty (the saved state is discarded)"
    try:
        payload = pickle.loads(path.read_bytes())  # noqa: S301 - our own file, mode 0600
    except Exception as error:
        raise SnapshotError(
            f"the saved state {path} cannot be read ({error}); {reset_hint}"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SnapshotError(f"the saved state {path} has an unknown format; {reset_hint}")
    if payload["moto_version"] != _moto_version():
        raise SnapshotError(
            f"the saved state {path} was written by moto {payload['moto_version']} and this is "
            f"moto {_moto_version()}: install that version again, or {reset_hint}"
        )
    return Snapshot(payload["moto_version"], payload["services"], payload["functions"])


def restore_backends(snapshot: Snapshot) -> None:
    """Put S3 and DynamoDB back as they were (call before anything talks to the server)."""
    from moto.backends import get_backend

    for service, data in snapshot.services.items():
        try:
            restored = pickle.loads(data)  # noqa: S301 - our own file
        except Exception as error:
            raise SnapshotError(f"the saved {service} state cannot be loaded: {error}") from error
        get_backend(service)[LOCAL_ACCOUNT] = restored  # type: ignore[call-overload]


def restore_functions(
    lambda_client: Any, snapshot: Snapshot, placeholder_zip: bytes, role_arn: str
) -> None:
    """Re-create functions, their published versions (same numbers, same environments) and
    aliases (same version, same routing weights) through the Lambda API. `role_arn`: the
    re-provisioned execution role (IAM is not part of the snapshot)."""
    for function in snapshot.functions:
        name = function["name"]
        try:
            lambda_client.get_function(FunctionName=name)
            continue  # already there (provisioned meanwhile): leave it as it is
        except lambda_client.exceptions.ResourceNotFoundException:
            pass
        first = function["versions"][0]["variables"] if function["versions"] else None
        lambda_client.create_function(
            FunctionName=name,
            Runtime=function["runtime"],
            Role=role_arn,
            Handler=function["handler"],
            Code={"ZipFile": placeholder_zip},
            Architectures=function["architectures"],
            MemorySize=function["memory"],
            Timeout=function["timeout"],
            Environment={"Variables": first if first is not None else function["variables"]},
        )
        for index, version in enumerate(function["versions"]):
            if index > 0:
                lambda_client.update_function_configuration(
                    FunctionName=name, Environment={"Variables": version["variables"]}
                )
            published = lambda_client.publish_version(
                FunctionName=name, Description=version["description"]
            )
            if published["Version"] != version["version"]:
                raise SnapshotError(
                    f"restoring {name}: version {version['version']} came back as "
                    f"{published['Version']}; start with `mlops local --reset`"
                )
        lambda_client.update_function_configuration(
            FunctionName=name, Environment={"Variables": function["variables"]}
        )
        for alias in function["aliases"]:
            arguments: dict[str, Any] = {
                "FunctionName": name,
                "Name": alias["name"],
                "FunctionVersion": alias["version"],
            }
            if alias["weights"]:
                arguments["RoutingConfig"] = {"AdditionalVersionWeights": alias["weights"]}
            lambda_client.create_alias(**arguments)


class WriteFlag:
    """Set by any thread on a write; `take()` reads and clears it at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False

    def mark(self) -> None:
        self._set = True

    def take(self) -> bool:
        with self._lock:
            was, self._set = self._set, False
        return was
