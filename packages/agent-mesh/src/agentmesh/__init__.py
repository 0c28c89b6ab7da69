"""agent-mesh: agent identity and trust for the Agent Governance Toolkit.

Today this distribution provides `agentmesh.governance`, the entry point most users start with.
Identity (DIDs, Ed25519), delegation, trust scoring and the handshake are not built yet; see
docs/status.md.
"""

from agentmesh._version import __version__

__all__ = ["__version__"]
