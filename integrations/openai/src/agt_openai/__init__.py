"""agt-openai: Agent Governance Toolkit governance for the tool loop of OpenAI SDK applications.

The SDK runs no tools itself; the adapter is your loop's tool step, so every call the model asks
for is checked against policy before it runs and written to the audit trail::

    from agt_openai import ToolGovernance
    governance = ToolGovernance(policy="policy.yaml", tools=[read_table, delete_db])
    messages += governance.run_tool_calls(completion.choices[0].message)
"""

from __future__ import annotations

from agt_openai._loop import ToolGovernance
from agt_openai._version import __version__

__all__ = ["ToolGovernance", "__version__"]
