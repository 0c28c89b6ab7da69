"""agt-pydantic-ai: Agent Governance Toolkit governance for PydanticAI agents.

Every tool call of an agent is checked against policy before it runs, bound to the acting agent
and written to the audit trail::

    from agt_pydantic_ai import ToolGovernance
    agent = Agent(model, tools=[...], capabilities=[ToolGovernance(policy="policy.yaml")])
"""

from __future__ import annotations

from agt_pydantic_ai._capability import ApprovalDeferred, ToolGovernance
from agt_pydantic_ai._version import __version__

__all__ = ["ApprovalDeferred", "ToolGovernance", "__version__"]
