"""agt-openai-agents: Agent Governance Toolkit governance for the OpenAI Agents SDK.

Every function-tool call of an agent (and of the agents it hands off to) is checked against
policy before it runs, bound to the acting agent and written to the audit trail::

    from agt_openai_agents import ToolGovernance
    ToolGovernance(policy="policy.yaml").install(agent)
"""

from __future__ import annotations

from agt_openai_agents._guardrails import ToolGovernance
from agt_openai_agents._version import __version__

__all__ = ["ToolGovernance", "__version__"]
