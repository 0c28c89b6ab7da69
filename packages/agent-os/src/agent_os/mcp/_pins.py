"""Tool pinning: a tool definition is trusted as first seen, and a change waits for re-approval.

A "rug pull" is a server that shows a harmless tool, gets approved, then changes the tool's
description or schema (to poison the model, or to widen what it accepts). `ToolPins` records the
SHA-256 of each tool's definition (RFC 8785 canonical JSON of its name, title, description,
schemas and annotations) the first time a server lists it. A later listing with another hash
leaves the pin as it was and records the new hash as *pending*: the gateway withholds the changed
tool and refuses calls to it until someone approves the pending hash (`McpGateway.approve_tool`,
which is audited).

Pins live in memory, or in a JSON file (``path=``) so they outlive the process; the file is
rewritten atomically on every change.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from agt_core import canonical_json, sha256_hex

__all__ = ["PinStatus", "ToolPins", "definition_hash"]

PinStatus = Literal["new", "match", "changed"]

# What the model sees of a tool and what it may be called with; `_meta`, `icons` and
# `execution` hints do not change what the tool claims to do.
_PINNED_FIELDS = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")


def definition_hash(tool: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a tool definition's pinned fields.

    Raises:
        CanonicalJSONError: The definition has no canonical JSON form (NaN, huge integers, ...).
    """
    pinned = {key: tool[key] for key in _PINNED_FIELDS if key in tool}
    return sha256_hex(canonical_json(pinned).encode())


class ToolPins:
    """Pinned tool-definition hashes per server and tool (see the module docstring).

    Args:
        path: A JSON file to load pins from and save them to; ``None`` keeps them in memory.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._pins: dict[str, dict[str, dict[str, str | None]]] = {}
        if self.path is not None and self.path.exists():
            data = json.loads(self.path.read_text(encoding="utf-8"))
            servers = data.get("servers") if isinstance(data, dict) else None
            if not isinstance(servers, dict):
                raise ValueError(f"pin file `{self.path}` has no `servers` mapping")
            for server, tools in servers.items():
                for tool, entry in tools.items():
                    pin, pending = entry.get("hash"), entry.get("pending")
                    if not isinstance(pin, str) or not (pending is None or isinstance(pending, str)):
                        raise ValueError(f"pin file `{self.path}`: bad entry for `{server}`/`{tool}`")
                    self._pins.setdefault(server, {})[tool] = {"hash": pin, "pending": pending}

    def check(self, server: str, tool: str, digest: str) -> PinStatus:
        """Compare a listed definition's hash with the pin, pinning it at first sight.

        Returns:
            ``new`` (pinned now), ``match``, or ``changed`` (recorded as pending; not trusted).
        """
        with self._lock:
            entry = self._pins.setdefault(server, {}).get(tool)
            if entry is None:
                self._pins[server][tool] = {"hash": digest, "pending": None}
                self._save()
                return "new"
            if entry["hash"] == digest:
                if entry["pending"] is not None:  # the server went back to the approved definition
                    entry["pending"] = None
                    self._save()
                return "match"
            if entry["pending"] != digest:
                entry["pending"] = digest
                self._save()
            return "changed"

    def pinned(self, server: str, tool: str) -> str | None:
        """The approved hash of a tool, or ``None`` if never seen."""
        with self._lock:
            entry = self._pins.get(server, {}).get(tool)
            return None if entry is None else entry["hash"]

    def pending(self, server: str, tool: str) -> str | None:
        """The hash of a changed definition waiting for approval, or ``None``."""
        with self._lock:
            entry = self._pins.get(server, {}).get(tool)
            return None if entry is None else entry["pending"]

    def servers(self) -> tuple[str, ...]:
        """Every server with pinned tools, sorted."""
        with self._lock:
            return tuple(sorted(self._pins))

    def tools(self, server: str) -> tuple[str, ...]:
        """The pinned tool names of a server, sorted."""
        with self._lock:
            return tuple(sorted(self._pins.get(server, {})))

    def approve(self, server: str, tool: str, digest: str) -> str:
        """Make `digest` (which must be the pending hash) the pinned one; returns the previous pin.

        Raises:
            KeyError: Nothing is pending for that tool, or the pending hash is not `digest`.
        """
        with self._lock:
            entry = self._pins.get(server, {}).get(tool)
            if entry is None or entry["pending"] is None:
                raise KeyError(f"no changed definition of tool `{tool}` of server `{server}` is waiting")
            if entry["pending"] != digest:
                raise KeyError(
                    f"the pending definition of tool `{tool}` of server `{server}` is not `{digest}`"
                )
            previous = entry["hash"]
            assert previous is not None
            entry["hash"], entry["pending"] = digest, None
            self._save()
            return previous

    def _save(self) -> None:
        if self.path is None:
            return
        data = {"version": 1, "servers": self._pins}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, sort_keys=True, indent=1)
        os.replace(tmp, self.path)

    def __repr__(self) -> str:
        return f"ToolPins(path={str(self.path) if self.path else None!r})"
