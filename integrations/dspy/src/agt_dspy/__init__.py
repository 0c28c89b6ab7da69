"""agt-dspy: Agent Governance Toolkit governance for DSPy tool use.

DSPy has no blocking tool hook, so the tools themselves are governed: each call is checked
against policy before the wrapped function runs, bound to the acting agent and written to the
audit trail::

    from agt_dspy import govern_tools
    react = dspy.ReAct("question -> answer", tools=govern_tools(tools, policy="policy.yaml"))
"""

from __future__ import annotations

from agt_dspy._tool import GovernedTool, govern_tools
from agt_dspy._version import __version__

__all__ = ["GovernedTool", "__version__", "govern_tools"]
