"""Re-record the peer's decisions for the peer-policy corpus (conformance/peer-corpus).

    ./dev -s peer_corpus_record

Installs the peer (Microsoft's agent-governance-toolkit, pinned) in this session's own
environment, never in ours, and runs conformance/peer-corpus/record_peer.py there, which rewrites
peer_decisions.json. Not tagged ci: it downloads the peer, and its output is committed; the
comparison itself runs in the conformance session.
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent.parent
PEER = "agent-governance-toolkit==4.1.0"


@nox.session(python="3.11")
def peer_corpus_record(session: nox.Session) -> None:
    """Install the peer and record its load results and decisions on the corpus."""
    session.install(PEER, "sqlglot>=30,<31")
    session.run("python", str(ROOT / "conformance" / "peer-corpus" / "record_peer.py"))
