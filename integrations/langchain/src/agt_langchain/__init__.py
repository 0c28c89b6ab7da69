"""agt-langchain: Agent Governance Toolkit governance for LangChain 1.x agents.

Every tool call of a ``create_agent`` agent is checked against policy before it runs, bound to
the acting agent and written to the audit trail::

    from agt_langchain import GovernanceMiddleware
    agent = create_agent(model, tools, middleware=[GovernanceMiddleware(policy="policy.yaml")])
"""

from __future__ import annotations

from agt_langchain._middleware import GovernanceMiddleware
from agt_langchain._version import __version__

__all__ = ["GovernanceMiddleware", "__version__"]
