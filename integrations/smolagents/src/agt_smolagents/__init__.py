"""agt-smolagents: Agent Governance Toolkit governance for smolagents.

smolagents has no pre-tool hook, so the tools themselves are governed: each call is checked
against policy before the wrapped tool runs, bound to the acting agent and written to the audit
trail::

    from agt_smolagents import govern_tools
    agent = ToolCallingAgent(tools=govern_tools(tools, policy="policy.yaml"), model=model)
"""

from __future__ import annotations

from agt_smolagents._tool import GovernedTool, govern_tools
from agt_smolagents._version import __version__

__all__ = ["GovernedTool", "__version__", "govern_tools"]
