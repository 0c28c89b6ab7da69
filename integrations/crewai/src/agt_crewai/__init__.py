"""agt-crewai: Agent Governance Toolkit governance for CrewAI.

Every tool call of every CrewAI agent is checked against policy before it runs, bound to the
acting agent and written to the audit trail::

    from agt_crewai import CrewGovernance
    CrewGovernance(policy="policy.yaml").install()
"""

from __future__ import annotations

from agt_crewai._hooks import CrewGovernance
from agt_crewai._version import __version__

__all__ = ["CrewGovernance", "__version__"]
