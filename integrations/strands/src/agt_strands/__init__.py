"""agt-strands: Agent Governance Toolkit governance for Strands Agents.

Every tool call of an agent is checked against policy before it runs, bound to the acting agent
and written to the audit trail::

    from agt_strands import ToolGovernance
    agent = Agent(model=..., tools=[...], interventions=[ToolGovernance(policy="policy.yaml")])
"""

from __future__ import annotations

from agt_strands._intervention import ToolGovernance
from agt_strands._version import __version__

__all__ = ["ToolGovernance", "__version__"]
