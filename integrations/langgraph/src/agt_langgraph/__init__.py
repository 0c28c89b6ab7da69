"""agt-langgraph: Agent Governance Toolkit governance for LangGraph's `ToolNode`.

Every tool call a `ToolNode` makes is checked against policy before it runs, bound to the
acting agent and written to the audit trail::

    from agt_langgraph import ToolCallGovernance
    governance = ToolCallGovernance(policy="policy.yaml")
    node = ToolNode(tools, wrap_tool_call=governance.wrap_tool_call, awrap_tool_call=governance.awrap_tool_call)
"""

from __future__ import annotations

from agt_langgraph._tool_node import Approvals, InterruptApprover, ToolCallGovernance
from agt_langgraph._version import __version__

__all__ = ["Approvals", "InterruptApprover", "ToolCallGovernance", "__version__"]
