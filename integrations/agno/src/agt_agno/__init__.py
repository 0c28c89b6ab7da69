"""agt-agno: Agent Governance Toolkit governance for Agno agents and teams.

Every tool call of an agent is checked against policy before it runs, bound to the acting agent
and written to the audit trail::

    from agt_agno import ToolGovernance
    agent = Agent(model=..., tools=[...], tool_hooks=[ToolGovernance(policy="policy.yaml")])
"""

from __future__ import annotations

from agt_agno._hook import ToolGovernance
from agt_agno._version import __version__

__all__ = ["ToolGovernance", "__version__"]
