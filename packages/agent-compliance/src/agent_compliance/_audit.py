"""``agt audit verify``: check an audit trail, as exported lines or as an agent-hypervisor store.

JSON lines are checked with `agt_core.verify_audit_lines` (the verifier every store shares);
SQLite stores, their Merkle trees and signed checkpoints with agent-hypervisor, when installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent_compliance._optional import installed, missing_note
from agent_compliance._requests import UsageError

__all__ = ["AuditVerdict", "is_store", "verify_audit"]

_STORE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


@dataclass(frozen=True)
class AuditVerdict:
    """The outcome of verifying one trail.

    Attributes:
        ok: Every check passed.
        summary: One line for people.
        records: Records verified (up to the first failure).
        head: Hash of the last verified record, when known.
        first_bad_index: The first record that failed, when one can be named.
        pinned: Whether the trail was checked against a published head, count or checkpoint
            (without one, truncation and a rebuilt trail go unnoticed).
    """

    ok: bool
    summary: str
    records: int
    head: str | None = None
    first_bad_index: int | None = None
    pinned: bool = False


def is_store(path: str) -> bool:
    """Whether `path` names a SQLite store rather than exported JSON lines."""
    return path.startswith("sqlite:") or path.endswith(_STORE_SUFFIXES)


def verify_audit(
    path: str,
    *,
    head: str | None = None,
    count: int | None = None,
    allow_unpinned: bool = False,
    checkpoint: str | None = None,
    public_key: str | None = None,
    deep: bool = False,
) -> AuditVerdict:
    """Verify the trail at `path`.

    Raises:
        UsageError: when the file cannot be read, the arguments do not fit the kind of trail, or
            agent-hypervisor is needed and not installed.
    """
    if is_store(path):
        if head is not None or count is not None:
            raise UsageError(
                "--head and --count apply to exported JSON lines; a store is pinned with --checkpoint"
            )
        return _verify_store(path, checkpoint=checkpoint, public_key=public_key, deep=deep)
    if checkpoint is not None:
        raise UsageError(
            "--checkpoint applies to an agent-hypervisor store (.db); pin JSON lines with --head"
        )
    return _verify_lines(path, head=head, count=count, allow_unpinned=allow_unpinned)


def _verify_lines(path: str, *, head: str | None, count: int | None, allow_unpinned: bool) -> AuditVerdict:
    from agt_core import AuditIntegrityError, verify_audit_lines

    if head is None and count is None and not allow_unpinned:
        raise UsageError(
            "pass --head HASH or --count N (from a published or signed head) so truncation and a rebuilt "
            "trail are caught, or --allow-unpinned to check only that the lines are consistent"
        )
    try:
        with Path(path).open(encoding="utf-8") as lines:
            chain = verify_audit_lines(
                (line for line in lines if line.strip()),
                expected_head=head,
                expected_count=count,
                allow_unpinned=allow_unpinned,
            )
    except OSError as exc:
        raise UsageError(f"cannot read audit trail `{path}`: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"audit trail `{path}` is not UTF-8 text") from None
    except AuditIntegrityError as exc:
        return AuditVerdict(ok=False, summary=f"FAILED: {exc.message}", records=0, first_bad_index=exc.index)
    pinned = head is not None or count is not None
    text = f"OK: {chain.count} records verified, head {chain.hash}"
    if not pinned:
        text += " (unpinned: truncation or a rebuilt trail would go unnoticed)"
    return AuditVerdict(ok=True, summary=text, records=chain.count, head=chain.hash, pinned=pinned)


def _verify_store(path: str, *, checkpoint: str | None, public_key: str | None, deep: bool) -> AuditVerdict:
    if not installed("agent-hypervisor"):
        raise UsageError(
            f"verifying a SQLite audit store needs agent-hypervisor; {missing_note('agent-hypervisor')}"
        )
    from agent_hypervisor import SignedCheckpoint, SqliteAuditLog, load_public_key
    from agt_core import GovernanceError

    file = path.removeprefix("sqlite:///") if path.startswith("sqlite:///") else path
    if not Path(file).is_file():
        raise UsageError(f"audit store `{file}` does not exist")
    signed = None
    key = None
    if checkpoint is not None:
        if public_key is None:
            raise UsageError("--checkpoint needs --public-key: the key of the signer you trust")
        try:
            signed = SignedCheckpoint.from_json(Path(checkpoint).read_bytes())
            key = load_public_key(Path(public_key))
        except OSError as exc:
            raise UsageError(f"cannot read `{exc.filename}`: {exc.strerror}") from None
        except (ValueError, GovernanceError) as exc:
            raise UsageError(f"bad checkpoint or public key: {exc}") from None
    elif public_key is not None:
        raise UsageError("--public-key is used with --checkpoint")
    try:
        with SqliteAuditLog(file, create=False) as log:
            report = log.verify(checkpoint=signed, public_key=key, deep=deep)
    except GovernanceError as exc:
        return AuditVerdict(ok=False, summary=f"FAILED: {exc}", records=0)
    pinned = signed is not None or report.checkpoints_checked > 0
    text = report.summary()
    if report.ok and not pinned:
        text += " (no checkpoint checked: truncation or a rebuilt log would go unnoticed)"
    return AuditVerdict(
        ok=report.ok,
        summary=text,
        records=report.records,
        head=report.head_hash,
        first_bad_index=report.first_bad_index,
        pinned=pinned,
    )
