"""Model artifacts in S3: written once per version, read back only after a sha256 check."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Protocol

from mlops.inference.exceptions import ArtifactIntegrityError

if TYPE_CHECKING:
    from mlops.registry.records import ArtifactRef

CONTENT_TYPES = {
    ".onnx": "application/octet-stream",
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
}
#: The drift reference of a version (mlops.drift.columnar), next to its other artifacts.
REFERENCE_FEATURES = "reference/features.parquet"
REFERENCE_PREDICTIONS = "reference/predictions.parquet"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def version_prefix(model: str, version: int) -> str:
    return f"models/{model}/v{version}/"


class ArtifactLocation(Protocol):
    """What a verified read needs: an ArtifactRef, or the serving view's ServedArtifact."""

    @property
    def key(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def version_id(self) -> str | None: ...


class ArtifactStore:
    """Puts and gets the files of a model version under `models/<model>/v<N>/`."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def put_version(
        self, model: str, version: int, files: dict[str, bytes]
    ) -> dict[str, ArtifactRef]:
        """Upload a version's files; the returned refs carry the sha256 the registry records.

        S3 verifies each upload against its SHA-256 checksum, so a corrupted upload fails here
        rather than at serving time.
        """
        from mlops.registry.records import ArtifactRef  # pydantic: not on the serving path

        refs: dict[str, ArtifactRef] = {}
        for name, data in files.items():
            key = version_prefix(model, version) + name
            suffix = name[name.rfind(".") :]
            response = self._s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=CONTENT_TYPES.get(suffix, "application/octet-stream"),
                ChecksumAlgorithm="SHA256",
                Metadata={"sha256": sha256_hex(data), "model": model, "version": str(version)},
            )
            refs[name] = ArtifactRef(
                key=key,
                sha256=sha256_hex(data),
                size=len(data),
                version_id=response.get("VersionId"),
            )
        return refs

    def get_verified(self, ref: ArtifactLocation) -> bytes:
        """The artifact's bytes, or ArtifactIntegrityError if they do not hash to `ref.sha256`."""
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": ref.key}
        if ref.version_id:
            arguments["VersionId"] = ref.version_id
        from botocore.exceptions import FlexibleChecksumError  # botocore is loaded by now

        try:
            data: bytes = self._s3.get_object(**arguments)["Body"].read()
        except FlexibleChecksumError as error:
            # The SDK validated the object's stored S3 checksum and the bytes do not match it:
            # the same refusal as ours below, caught one step earlier.
            raise ArtifactIntegrityError(
                f"s3://{self.bucket}/{ref.key} does not match its own S3 checksum: {error}"
            ) from error
        actual = sha256_hex(data)
        if actual != ref.sha256:
            raise ArtifactIntegrityError(
                f"s3://{self.bucket}/{ref.key} has sha256 {actual}, the registry recorded "
                f"{ref.sha256}: refusing to load it"
            )
        return data
