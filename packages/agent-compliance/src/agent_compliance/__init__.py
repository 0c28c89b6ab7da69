"""agent-compliance: the `agt` command line of the Agent Governance Toolkit.

``agt verify`` attacks a deployment per the OWASP Top 10 for Agentic Applications and reports
evidence; ``agt policy lint|test|eval|schema``, ``agt red-team scan|attack``, ``agt audit
verify|export|checkpoint`` and ``agt doctor`` complete it. Importing this package loads nothing
heavy: each command loads its engine when it runs.
"""

from __future__ import annotations

from agent_compliance._cli import main
from agent_compliance._version import __version__

__all__ = ["__version__", "main"]
