"""agt-anthropic: Agent Governance Toolkit governance for the tool loop of Anthropic SDK applications.

The Messages API runs no client tools itself; the adapter is your loop's tool step (and governs
the beta tool runner's tools), so every tool use is checked against policy before it runs and
written to the audit trail::

    from agt_anthropic import ToolGovernance
    governance = ToolGovernance(policy="policy.yaml", tools=[read_table, delete_db])
    messages.append({"role": "user", "content": governance.run_tool_uses(message)})
"""

from __future__ import annotations

from agt_anthropic._loop import ToolGovernance
from agt_anthropic._version import __version__

__all__ = ["ToolGovernance", "__version__"]
