"""Entry points agent-os finds without importing this package (group ``agt.audit_stores``)."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from agent_hypervisor._sqlite_log import SqliteAuditLog

if TYPE_CHECKING:
    from agent_hypervisor._postgres_log import PostgresAuditLog

__all__ = ["open_postgres_store", "open_sqlite_store", "parse_sqlite_location"]

_OPTIONS = {"durability", "batch_size", "flush_interval", "busy_timeout"}


def parse_sqlite_location(location: str) -> tuple[str, dict[str, str]]:
    """Split ``sqlite:///path?durability=batched`` (or a plain path) into the path and its options.

    Raises:
        ValueError: for an unknown option or a URL without a path.
    """
    if not location.startswith("sqlite:"):
        return location, {}
    parts = urlsplit(location)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(
            f"sqlite URL `{location}` names a host; use sqlite:///relative or sqlite:////absolute"
        )
    path = unquote(parts.path)
    # sqlite:///audit.db -> "audit.db" (relative); sqlite:////var/audit.db -> "/var/audit.db".
    path = path[1:] if path.startswith("/") else path
    if not path:
        raise ValueError(f"sqlite URL `{location}` has no file path")
    options: dict[str, str] = {}
    for key, values in parse_qs(parts.query, keep_blank_values=True).items():
        if key not in _OPTIONS:
            raise ValueError(
                f"unknown sqlite audit store option `{key}` (known: {', '.join(sorted(_OPTIONS))})"
            )
        options[key] = values[-1]
    return path, options


_open_stores: dict[tuple[str, tuple[tuple[str, str], ...]], SqliteAuditLog] = {}
_open_lock = threading.Lock()


def open_sqlite_store(location: str) -> SqliteAuditLog:
    """Open (or create) the SQLite audit store at a path or ``sqlite:///`` URL: ``agt.audit_stores`` ``sqlite``.

    Options in the URL query: ``durability`` (sync, batched), ``batch_size``, ``flush_interval``,
    ``busy_timeout``. Every tool governed with the same location in one process shares one store
    object, so their appends share group commits; other processes coordinate through SQLite's lock.
    """
    path, options = parse_sqlite_location(location)
    key = (os.path.realpath(path), tuple(sorted(options.items())))
    with _open_lock:
        store = _open_stores.get(key)
        if store is None or store.closed:
            store = _open_stores[key] = _open(path, options)
        return store


def _open(path: str, options: dict[str, str]) -> SqliteAuditLog:
    durability = options.get("durability", "sync")
    if durability not in ("sync", "batched"):
        raise ValueError(f"durability must be `sync` or `batched`, not `{durability}`")
    return SqliteAuditLog(
        path,
        durability="batched" if durability == "batched" else "sync",
        batch_size=int(options.get("batch_size", 256)),
        flush_interval=float(options.get("flush_interval", 0.05)),
        busy_timeout=float(options.get("busy_timeout", 30.0)),
    )


_open_pg: dict[str, PostgresAuditLog] = {}


def open_postgres_store(location: str) -> PostgresAuditLog:
    """Open (or create) the PostgreSQL audit store at a ``postgresql://`` URL: ``agt.audit_stores`` ``postgresql``.

    Every tool governed with the same URL in one process shares one store object.
    """
    from agent_hypervisor._postgres_log import PostgresAuditLog

    with _open_lock:
        store = _open_pg.get(location)
        if store is None or store.closed:
            store = _open_pg[location] = PostgresAuditLog(location)
        return store
