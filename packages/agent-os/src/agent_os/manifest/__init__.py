"""agent_os.manifest: signed tool manifests (OWASP ASI04, Agentic Supply Chain Vulnerabilities).

A publisher signs a manifest (name, version, entry point, capabilities, SHA-256 of every file)
with Ed25519; ``govern(tool, manifest=..., trusted_keys=...)`` and the MCP gateway then run the
tool only while the manifest verifies, its files on disk still match, and each call's action is
among its capabilities. ``python -m agent_os.manifest keygen|sign|verify`` on the command line.

Needs ``pip install 'agent-os[signing]'`` (the cryptography package) to sign or verify.
"""

from __future__ import annotations

from agent_os.manifest._errors import ManifestError
from agent_os.manifest._guard import ManifestGuard
from agent_os.manifest._keys import generate_keypair, key_id, load_private_key, load_trusted_keys
from agent_os.manifest._model import MANIFEST_SCHEMA, Signature, SignedManifest, ToolManifest
from agent_os.manifest._verify import (
    ManifestVersions,
    VerifiedManifest,
    create_manifest,
    file_digest,
    read_manifest,
    sign_manifest,
    verify_manifest,
    write_manifest,
)

__all__ = [
    "MANIFEST_SCHEMA",
    "ManifestError",
    "ManifestGuard",
    "ManifestVersions",
    "Signature",
    "SignedManifest",
    "ToolManifest",
    "VerifiedManifest",
    "create_manifest",
    "file_digest",
    "generate_keypair",
    "key_id",
    "load_private_key",
    "load_trusted_keys",
    "read_manifest",
    "sign_manifest",
    "verify_manifest",
    "write_manifest",
]
