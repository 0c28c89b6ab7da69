"""agt-a2a: Agent Governance Toolkit governance for A2A agent-to-agent calls (a2a-sdk).

Outgoing requests are decided by a client call interceptor, incoming ones by a wrapper of the
server's `AgentExecutor`; both are bound to the agent card's identity and audited::

    from agt_a2a import ClientGovernance, GovernedAgentExecutor
    client = ClientFactory(config).create(card, interceptors=[ClientGovernance(policy="policy.yaml")])
    executor = GovernedAgentExecutor(MyExecutor(), agent_card=my_card, policy="policy.yaml")
"""

from __future__ import annotations

from agt_a2a._a2a import RECEIVE, SEND, ClientGovernance, GovernedAgentExecutor
from agt_a2a._version import __version__

__all__ = ["RECEIVE", "SEND", "ClientGovernance", "GovernedAgentExecutor", "__version__"]
