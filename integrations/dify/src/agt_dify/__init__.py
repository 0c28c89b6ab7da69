"""agt-dify: Agent Governance Toolkit governance for Dify agent-strategy plugins.

A Dify agent strategy owns its agent loop; a governed one decides every tool invocation
against policy before ``session.tool.invoke`` runs it, and audits it::

    from agt_dify import GovernedFunctionCallingStrategy, ToolGovernance

    class OpsStrategy(GovernedFunctionCallingStrategy):
        governance = ToolGovernance(policy="policy.yaml")
"""

from __future__ import annotations

from agt_dify._strategy import GovernedFunctionCallingStrategy, ToolGovernance
from agt_dify._version import __version__

__all__ = ["GovernedFunctionCallingStrategy", "ToolGovernance", "__version__"]
