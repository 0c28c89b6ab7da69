"""agt-agent-framework: Agent Governance Toolkit governance for Microsoft Agent Framework.

Every function call of an agent is checked against policy before it runs, bound to the acting
agent and written to the audit trail::

    from agt_agent_framework import GovernanceMiddleware
    agent = Agent(client=client, tools=[...], middleware=[GovernanceMiddleware(policy="policy.yaml")])
"""

from __future__ import annotations

from agt_agent_framework._middleware import GovernanceMiddleware
from agt_agent_framework._version import __version__

__all__ = ["GovernanceMiddleware", "__version__"]
