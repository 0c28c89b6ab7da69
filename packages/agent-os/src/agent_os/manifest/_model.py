"""The tool manifest and its signed envelope (pydantic models), and the bytes a signature covers.

A manifest says what a tool (or an MCP server) is: its name and version, its entry point, the
actions it may perform (``capabilities``) and the SHA-256 of every file of its code, relative to
the folder the manifest sits in. The signature covers ``agt-manifest-v1`` + a zero byte + the
RFC 8785 canonical JSON of the manifest, so it means the same in every language.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agt_core import canonical_json_bytes

__all__ = [
    "MANIFEST_SCHEMA",
    "SIGNING_CONTEXT",
    "Signature",
    "SignedManifest",
    "ToolManifest",
    "signed_bytes",
]

MANIFEST_SCHEMA: Literal["agt.manifest/v1"] = "agt.manifest/v1"
SIGNING_CONTEXT = b"agt-manifest-v1\x00"
"""Prefixed to the canonical JSON before signing, so a manifest signature is never valid for anything else."""

_VERSION = re.compile(r"^(0|[1-9][0-9]{0,8})(\.(0|[1-9][0-9]{0,8})){0,3}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def _utc(text: str) -> datetime:
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        raise ValueError(f"time `{text}` has no time zone; write it in UTC with a trailing Z")
    return stamp.astimezone(UTC)


class ToolManifest(BaseModel):
    """What a signed manifest states about a tool.

    Attributes:
        name: The tool's name (``govern``'s tool name, an MCP tool's or server's name).
        version: Dotted integers (``1.4.0``): versions are compared to refuse a replayed older manifest.
        entry_point: ``module:qualname`` of the callable (empty for an MCP server).
        capabilities: The actions (``action.type``) the tool may perform; for an MCP server, its tools.
        files: Path relative to the manifest's folder -> ``sha256:<hex>`` of the file's bytes.
        issued_at: When it was signed (UTC, ISO 8601).
        expires_at: After this time (UTC, ISO 8601) the manifest no longer verifies; None: never.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    schema_: Literal["agt.manifest/v1"] = Field(default=MANIFEST_SCHEMA, alias="schema")
    name: Annotated[str, Field(min_length=1, max_length=256)]
    version: str
    entry_point: str = ""
    capabilities: Annotated[tuple[str, ...], Field(strict=False, min_length=1)]
    files: dict[str, str]
    issued_at: str
    expires_at: str | None = None

    @field_validator("version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError(f"version `{value}` must be dotted integers such as `1.4.0`")
        return value

    @field_validator("files")
    @classmethod
    def _check_files(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("a manifest must list the files of its code")
        for path, digest in value.items():
            parts = path.split("/")
            if path.startswith("/") or "\\" in path or ".." in parts or "" in parts or ":" in path:
                raise ValueError(f"file path `{path}` must be relative, with `/` separators and no `..`")
            if not _DIGEST.match(digest):
                raise ValueError(f"digest of `{path}` must be `sha256:` and 64 lowercase hex digits")
        return value

    @field_validator("issued_at", "expires_at")
    @classmethod
    def _check_time(cls, value: str | None) -> str | None:
        if value is not None:
            _utc(value)
        return value

    def version_key(self) -> tuple[int, ...]:
        """The version as integers, for comparison."""
        return tuple(int(p) for p in self.version.split("."))

    def issued(self) -> datetime:
        return _utc(self.issued_at)

    def expires(self) -> datetime | None:
        return None if self.expires_at is None else _utc(self.expires_at)


class Signature(BaseModel):
    """An Ed25519 signature over `signed_bytes` of the manifest."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    algorithm: Literal["ed25519"] = "ed25519"
    key_id: str
    value: str = Field(description="The 64-byte signature, base64url without padding.")


class SignedManifest(BaseModel):
    """A manifest file: the manifest and its signature."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    manifest: ToolManifest
    signature: Signature


def signed_bytes(manifest: ToolManifest) -> bytes:
    """What the signature covers: the signing context and the manifest's canonical JSON."""
    return SIGNING_CONTEXT + canonical_json_bytes(manifest.model_dump(mode="json", by_alias=True))
