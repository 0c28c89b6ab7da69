"""agt-semantic-kernel: Agent Governance Toolkit governance for Semantic Kernel.

Every kernel function invocation (direct, model-initiated or an agent's) is checked against
policy before it runs, bound to the acting agent and written to the audit trail::

    from agt_semantic_kernel import KernelGovernance
    KernelGovernance(policy="policy.yaml").install(kernel)
"""

from __future__ import annotations

from agt_semantic_kernel._filters import KernelGovernance
from agt_semantic_kernel._version import __version__

__all__ = ["KernelGovernance", "__version__"]
