"""Proofs and reports the audit log hands out: plain data a verifier can check on its own."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent_hypervisor import merkle
from agent_hypervisor._tree import leaf_hash_of_record

__all__ = ["ConsistencyProof", "InclusionProof", "VerifyReport"]

_HEX64 = r"^[0-9a-f]{64}$"


class InclusionProof(BaseModel):
    """Proof that the record with `record_hash` is leaf `index` of the tree of `tree_size` records.

    The Merkle leaf of a record is the 32 raw bytes of its record hash (so the leaf hash is
    ``SHA-256(0x00 || record_hash)``); `path` is RFC 9162's ``PATH(index, D[tree_size])``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int = Field(ge=0)
    tree_size: int = Field(ge=1)
    record_hash: str = Field(pattern=_HEX64)
    path: tuple[str, ...]
    root_hash: str = Field(
        pattern=_HEX64, description="The root the log computed; compare with a trusted one."
    )

    def verify(self, trusted_root: str | None = None) -> bool:
        """Whether the path leads from the record to `trusted_root` (default: the proof's own root).

        Pass the root of a checkpoint you verified: a proof checked only against its own root
        shows internal consistency, not membership in the log you trust.
        """
        root = trusted_root if trusted_root is not None else self.root_hash
        try:
            got = merkle.root_from_inclusion(
                leaf_hash_of_record(self.record_hash),
                self.index,
                self.tree_size,
                [bytes.fromhex(p) for p in self.path],
            )
        except ValueError:
            return False
        return got.hex() == root


class ConsistencyProof(BaseModel):
    """Proof that the tree of `old_size` records (root `old_root`) is a prefix of the tree of `new_size`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    old_size: int = Field(ge=0)
    new_size: int = Field(ge=0)
    old_root: str = Field(pattern=_HEX64)
    new_root: str = Field(pattern=_HEX64)
    path: tuple[str, ...]

    def verify(self, trusted_old_root: str | None = None, trusted_new_root: str | None = None) -> bool:
        """Whether the proof holds, against trusted roots when given (e.g. from two signed checkpoints)."""
        old = trusted_old_root if trusted_old_root is not None else self.old_root
        new = trusted_new_root if trusted_new_root is not None else self.new_root
        try:
            proof = [bytes.fromhex(p) for p in self.path]
            return merkle.verify_consistency(
                self.old_size, self.new_size, bytes.fromhex(old), bytes.fromhex(new), proof
            )
        except ValueError:
            return False


class VerifyReport(BaseModel):
    """The verdict of `verify()`.

    Attributes:
        ok: True when every check passed.
        records: Records checked (up to the first failure).
        root_hash: Merkle root of the verified records (None when verification failed).
        head_hash: Hash of the last verified record.
        first_bad_index: Sequence number of the first record that failed, when one can be named
            (a log rebuilt from scratch can only be told apart from the checkpoint as a whole).
        reason: What failed, in one line.
        checkpoints_checked: How many checkpoints the log was checked against.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    records: int
    root_hash: str | None = None
    head_hash: str | None = None
    first_bad_index: int | None = None
    reason: str | None = None
    checkpoints_checked: int = 0

    def __bool__(self) -> bool:
        return self.ok

    def summary(self) -> str:
        """A one-line human verdict."""
        if self.ok:
            text = f"OK: {self.records} records verified, root {self.root_hash}"
            if self.checkpoints_checked:
                text += f", consistent with {self.checkpoints_checked} checkpoint(s)"
            return text
        where = f" at record {self.first_bad_index}" if self.first_bad_index is not None else ""
        return f"FAILED{where}: {self.reason}"
