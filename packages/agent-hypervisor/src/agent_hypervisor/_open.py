"""open_audit_log(): one call for an in-memory or durable log."""

from __future__ import annotations

import os

from agent_hypervisor._log_base import AuditLogBase
from agent_hypervisor._memory_log import MerkleAuditLog

__all__ = ["open_audit_log"]


def open_audit_log(location: str | os.PathLike[str] | None = None, **options: object) -> AuditLogBase:
    """A Merkle audit log: in memory when `location` is None, else the SQLite store at that path or URL.

    Args:
        location: None, a file path (``audit.db``) or a ``sqlite:///`` URL.
        **options: Passed to `SqliteAuditLog` (``durability``, ``batch_size``, ...).
    """
    if location is None:
        if options:
            raise TypeError(f"an in-memory log takes no options, got {sorted(options)}")
        return MerkleAuditLog()
    from agent_hypervisor._entry_points import parse_sqlite_location
    from agent_hypervisor._sqlite_log import SqliteAuditLog

    path, url_options = parse_sqlite_location(os.fspath(location))
    merged: dict[str, object] = {**url_options, **options}
    for key in ("batch_size",):
        if isinstance(merged.get(key), str):
            merged[key] = int(str(merged[key]))
    for key in ("flush_interval", "busy_timeout"):
        if isinstance(merged.get(key), str):
            merged[key] = float(str(merged[key]))
    return SqliteAuditLog(path, **merged)  # type: ignore[arg-type]
