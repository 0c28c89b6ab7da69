"""ManifestGuard: a tool runs only while its signed manifest verifies and its code matches it.

Checked when the tool is governed (`verify_manifest`: signature, trusted key, validity, replay,
file hashes; for a function, also that its entry point is the manifest's and that the file it is
defined in is among the hashed files) and again before every call (still valid, files unchanged
since hashed, the tool is the manifest's, the action among its capabilities). A failure at
govern() time does not raise: every call is then refused with the reason, through the kernel
(audited, ``refused_by="guard:manifest"``), so a broken supply chain leaves a trail.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from agent_os._request_builder import normalize_action
from agent_os.manifest._errors import ManifestError
from agent_os.manifest._verify import ManifestVersions, VerifiedManifest, verify_manifest

__all__ = ["ManifestGuard"]

logger = logging.getLogger("agent_os.manifest")


def _capability_set(capabilities: Sequence[str]) -> frozenset[str]:
    """Each capability as written and as ``action.type`` normalises it.

    A tool's own name reaches ``action.type`` as written, an ``action`` argument normalised: either
    form of a declared action matches.
    """
    return frozenset(capabilities) | frozenset(normalize_action(c) for c in capabilities)


class ManifestGuard:
    """A `agt_core.Guard` (name ``manifest``) enforcing one signed manifest.

    Args:
        manifest: The manifest file (or its data, or a `SignedManifest`).
        trusted_keys: Public keys it must be signed by.
        tool: The governed tool's name: the manifest must be for it (None: checked per call).
        target: The governed callable: its entry point and source file must be the manifest's.
        root: Folder the manifest's file paths are relative to (default: the manifest's folder).
        versions: Where accepted versions are kept (replay protection; default: the process's).
    """

    name = "manifest"

    def __init__(
        self,
        manifest: Any,
        trusted_keys: Any,
        *,
        tool: str | None = None,
        target: Any = None,
        root: str | os.PathLike[str] | None = None,
        versions: ManifestVersions | None = None,
    ) -> None:
        self.verified: VerifiedManifest | None = None
        self.problem: str | None = None
        self._capabilities: frozenset[str] = frozenset()
        try:
            verified = verify_manifest(manifest, trusted_keys, root=root, versions=versions)
            if tool is not None and verified.manifest.name != tool:
                raise ManifestError(
                    f"the manifest is for tool `{verified.manifest.name}`, not `{tool}`", reason="other-tool"
                )
            if target is not None:
                _check_target(verified, target)
        except ManifestError as exc:
            self.problem = exc.message
            logger.warning("tool %r will be refused: %s", tool, exc.message)
            return
        self.verified = verified
        self._capabilities = _capability_set(verified.manifest.capabilities)

    def check(self, request: Mapping[str, Any]) -> str | None:
        """None when the call may go on; else why not."""
        if self.verified is None:
            return self.problem
        manifest = self.verified.manifest
        action = request.get("action", {})
        tool = action.get("tool") if isinstance(action, Mapping) else None
        if tool != manifest.name:
            return f"the manifest is for tool `{manifest.name}`, not `{tool}`"
        kind = action.get("type") if isinstance(action, Mapping) else None
        if kind not in self._capabilities:
            return f"action `{kind}` is not among the capabilities the manifest of `{manifest.name}` declares"
        try:
            self.verified.check_time()
            self.verified.check_files()
        except ManifestError as exc:
            return exc.message
        return None

    def __repr__(self) -> str:
        state = "verified" if self.verified is not None else f"refusing: {self.problem}"
        return f"ManifestGuard({state})"


def _check_target(verified: VerifiedManifest, target: Any) -> None:
    manifest = verified.manifest
    entry = f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', '?')}"
    if manifest.entry_point and manifest.entry_point != entry:
        raise ManifestError(
            f"the manifest's entry point is `{manifest.entry_point}`, but the governed callable is `{entry}`",
            reason="entry-point",
        )
    try:
        source = inspect.getsourcefile(target)
    except TypeError:
        source = None
    if source is None:
        raise ManifestError(
            f"the source file of `{entry}` cannot be located, so the manifest cannot cover it",
            reason="uncovered-code",
        )
    real = os.path.realpath(source)
    if real not in {os.path.realpath(p) for p in verified.paths()}:
        raise ManifestError(
            f"`{entry}` is defined in `{real}`, which the manifest of `{manifest.name}` does not list",
            reason="uncovered-code",
        )
