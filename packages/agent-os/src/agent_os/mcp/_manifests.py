"""Signed manifests for MCP tools: a ``tools/call`` runs only when a verified manifest covers it.

A manifest covers a call when it is named after the tool and lists the action among its
capabilities, or is named after the server (``context.mcp.server``) and lists the tool's name.
A server manifest's files are the server's code (for the proxy: what its command runs), so
pointing the proxy at a server whose code changed since it was signed refuses every call.

Each manifest is verified when the gateway is built (signature, trusted key, validity, replay,
file hashes) and again before each call it covers (still valid, files unchanged). A manifest
that did not verify refuses every call it would cover, with its reason; any call no manifest
covers is refused. Resource reads and prompt fetches are not tool calls and are not covered.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from agent_os import normalize_action
from agent_os.manifest import (
    ManifestError,
    VerifiedManifest,
    load_trusted_keys,
    read_manifest,
    verify_manifest,
)

__all__ = ["McpManifestGuard"]

logger = logging.getLogger("agent_os.mcp")


class McpManifestGuard:
    """A `agt_core.Guard` (name ``manifest``) over the gateway's signed manifests.

    Args:
        manifests: Manifest files (or their data, or `SignedManifest` objects).
        trusted_keys: Public keys they must be signed by.
    """

    name = "manifest"

    def __init__(self, manifests: Sequence[Any], trusted_keys: Any) -> None:
        self._verified: dict[str, tuple[VerifiedManifest, frozenset[str]]] = {}
        self._problems: dict[str, str] = {}
        self._general: list[str] = []
        try:
            keys = load_trusted_keys(trusted_keys)
        except ManifestError as exc:
            self._general.append(exc.message)
            return
        for source in manifests:
            try:
                name = read_manifest(source)[0].manifest.name
            except ManifestError as exc:
                self._general.append(exc.message)  # not even a name: it cannot be matched to a tool
                continue
            try:
                verified = verify_manifest(source, keys)
            except ManifestError as exc:
                logger.warning("calls covered by the manifest of %r will be refused: %s", name, exc.message)
                self._problems[name] = exc.message
                continue
            declared = verified.manifest.capabilities
            # As written and as `action.type` normalises an `action` argument (a tool's name is not).
            capabilities = frozenset(declared) | frozenset(normalize_action(c) for c in declared)
            self._verified[name] = (verified, capabilities)

    def check(self, request: Mapping[str, Any]) -> str | None:
        """None when a verified manifest covers this tool call; else why it is refused."""
        context = request.get("context")
        mcp = context.get("mcp") if isinstance(context, Mapping) else None
        if not isinstance(mcp, Mapping) or mcp.get("method") != "tools/call":
            return None
        if self._general:
            return "; ".join(self._general)
        action = request.get("action")
        tool = action.get("tool") if isinstance(action, Mapping) else None
        kind = action.get("type") if isinstance(action, Mapping) else None
        server = mcp.get("server")
        for name, wanted in (
            (tool, kind),
            (server, normalize_action(tool) if isinstance(tool, str) else None),
        ):
            if not isinstance(name, str):
                continue
            if name in self._problems:
                return self._problems[name]
            entry = self._verified.get(name)
            if entry is None:
                continue
            verified, capabilities = entry
            if wanted not in capabilities:
                return f"`{wanted}` is not among the capabilities the manifest of `{name}` declares"
            try:
                verified.check_time()
                verified.check_files()
            except ManifestError as exc:
                return exc.message
            return None
        return f"no verified manifest covers tool `{tool}` of server `{server}`"

    def __repr__(self) -> str:
        return f"McpManifestGuard(verified={sorted(self._verified)}, refusing={sorted(self._problems)})"
