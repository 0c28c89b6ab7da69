"""Vector environments: every sub-environment governed, one gate and one audit trail for all."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import gymnasium

from agent_lightning._env import GovernedEnv
from agent_lightning._gate import make_gate

if TYPE_CHECKING:
    from agent_lightning._summary import EpisodeSummary
    from agent_os import ToolGate
    from agt_core import AuditSink

__all__ = ["GovernedVectorEnv"]


class GovernedVectorEnv(gymnasium.vector.SyncVectorEnv):
    """A `SyncVectorEnv` whose sub-environments are each wrapped in `GovernedEnv`.

    They share one `ToolGate` (so one audit trail and one set of rate-limit counters) and each
    puts its index in ``context.env_index``. Infos are batched the Gymnasium way: ``info["cost"]``
    is an array with one cost per sub-environment, ``info["governance"]`` a dict of arrays.

    Args:
        env_fns: Functions that each create one (ungoverned) environment.
        policy: The policy, as for `GovernedEnv`. Give this or `gate`.
        gate: A configured `ToolGate` shared by every sub-environment.
        audit: The audit sink when `policy` is given (default: a new in-memory `AuditLog`).
        agent_id: ``agent.id`` in conditions.
        autoreset_mode: Passed to `SyncVectorEnv` (default next-step autoreset).
        **options: Every other `GovernedEnv` option (penalties, shaping, budget, mapping, ...).
    """

    def __init__(
        self,
        env_fns: Sequence[Callable[[], gymnasium.Env[Any, Any]]],
        policy: Any = None,
        *,
        gate: ToolGate | None = None,
        audit: bool | AuditSink | str | None = None,
        agent_id: str = "rl-agent",
        autoreset_mode: gymnasium.vector.AutoresetMode = gymnasium.vector.AutoresetMode.NEXT_STEP,
        **options: Any,
    ) -> None:
        if gate is not None and audit is not None:
            raise TypeError("audit= configures the gate built for policy=; configure your own gate instead")
        shared = make_gate(policy, gate, audit, agent_id)
        self.gate = shared

        def governed(index: int, make: Callable[[], gymnasium.Env[Any, Any]]) -> Callable[[], GovernedEnv]:
            return lambda: GovernedEnv(make(), gate=shared, env_index=index, **options)

        super().__init__([governed(i, make) for i, make in enumerate(env_fns)], autoreset_mode=autoreset_mode)

    @property
    def governed(self) -> list[GovernedEnv]:
        """The governed sub-environments, in order."""
        return [env for env in self.envs if isinstance(env, GovernedEnv)]

    @property
    def audit_log(self) -> AuditSink | None:
        """The shared audit trail."""
        return self.gate.audit_log

    def summaries(self) -> list[tuple[int, EpisodeSummary]]:
        """``(env_index, summary)`` for the finished episodes each sub-environment keeps."""
        return [(i, s) for i, env in enumerate(self.governed) for s in env.summaries]
