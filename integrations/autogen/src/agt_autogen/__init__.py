"""agt-autogen: Agent Governance Toolkit governance for AutoGen (AgentChat and Core).

Every tool call an agent makes through its workbench is checked against policy before it runs,
and every message agents exchange through the runtime can be checked too::

    from agt_autogen import GovernedWorkbench
    agent = AssistantAgent("ops", model_client, workbench=GovernedWorkbench(tools, policy="policy.yaml"))
"""

from __future__ import annotations

from agt_autogen._intervention import MessageGovernance
from agt_autogen._version import __version__
from agt_autogen._workbench import GovernedWorkbench

__all__ = ["GovernedWorkbench", "MessageGovernance", "__version__"]
