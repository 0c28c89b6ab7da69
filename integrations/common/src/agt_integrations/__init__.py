"""agt-integrations: the small core every Agent Governance Toolkit framework adapter shares.

An adapter turns its framework's native tool hook into `ToolGovernor.check` and turns the
`Verdict` back into the framework's own answer (a refusal the model reads, or the framework's
fail-closed signal). `agt_integrations.testing` is the shared behavioural test kit.
"""

from __future__ import annotations

from agt_integrations._governor import OnRefusal, ToolGovernor, Verdict
from agt_integrations._pending import Pending, PendingCalls
from agt_integrations._version import __version__

__all__ = ["OnRefusal", "Pending", "PendingCalls", "ToolGovernor", "Verdict", "__version__"]
