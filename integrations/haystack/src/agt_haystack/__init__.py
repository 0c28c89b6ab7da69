"""agt-haystack: Agent Governance Toolkit governance for Haystack agents.

Every tool call of a Haystack ``Agent`` is checked against policy in the ``before_tool`` hook
before it runs, bound to the acting agent and written to the audit trail::

    from agt_haystack import governance_hook
    agent = Agent(chat_generator=gen, tools=tools, hooks={"before_tool": [governance_hook(policy="policy.yaml")]})
"""

from __future__ import annotations

from agt_haystack._strategy import PolicyStrategy, governance_hook
from agt_haystack._version import __version__

__all__ = ["PolicyStrategy", "__version__", "governance_hook"]
