"""The native (Rust) policy evaluator of the Agent Governance Toolkit.

Installed, it registers itself as ``native`` in the ``agt.evaluators`` entry-point group, and
``agent_os.compile_policies`` uses it by default. It compiles the same resolved policies as the
Python evaluator and returns identical `agt_core.Decision` objects; both are held to the shared
conformance vectors in ``conformance/policy/``. agent-os never imports this package by name.

    >>> from agt_evaluator import NativeEvaluator
    >>> NativeEvaluator.name
    'native'
"""

from agt_evaluator._evaluator import ENGINE_VERSION, EnginePanic, NativeEvaluator, NativePolicySet

__all__ = ["ENGINE_VERSION", "EnginePanic", "NativeEvaluator", "NativePolicySet"]
