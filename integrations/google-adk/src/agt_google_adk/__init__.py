"""agt-google-adk: Agent Governance Toolkit governance for Google ADK.

Every tool call of every agent an app's runner drives is checked against policy before it runs, bound
to the acting agent and written to the audit trail::

    from agt_google_adk import GovernancePlugin
    app = App(name="ops", root_agent=agent, plugins=[GovernancePlugin(policy="policy.yaml")])
"""

from __future__ import annotations

from agt_google_adk._plugin import ConfirmationRequested, GovernancePlugin
from agt_google_adk._version import __version__

__all__ = ["ConfirmationRequested", "GovernancePlugin", "__version__"]
