"""agt-llama-index: Agent Governance Toolkit governance for LlamaIndex agents and workflows.

LlamaIndex has no pre-tool hook, so the tools themselves are governed: each call is checked
against policy before the wrapped tool runs, bound to the acting agent and written to the audit
trail::

    from agt_llama_index import govern_tools
    agent = FunctionAgent(tools=govern_tools(tools, policy="policy.yaml"), llm=llm)
"""

from __future__ import annotations

from agt_llama_index._tool import GovernedTool, govern_tools
from agt_llama_index._version import __version__

__all__ = ["GovernedTool", "__version__", "govern_tools"]
