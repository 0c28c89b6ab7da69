"""`NativeEvaluator` and `NativePolicySet`: the `agt_core.Evaluator` and `PolicySet` over the engine."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agt_core import Decision, PolicyError, ResolvedPolicy
from agt_evaluator import _native

__all__ = ["ENGINE_VERSION", "EnginePanic", "NativeEvaluator", "NativePolicySet"]

ENGINE_VERSION: str = _native.ENGINE_VERSION
"""The version of the agt-engine crate inside the extension module."""

EnginePanic = _native.EnginePanic
"""Raised (a `RuntimeError`) when the engine panics; the kernel turns it into an audited deny."""


class NativePolicySet:
    """A compiled policy set evaluated by the Rust engine. Immutable; safe to share between threads.

    Build one with ``agent_os.compile_policies(..., evaluator="native")`` (the default when this
    package is installed) or `NativeEvaluator.compile`.
    """

    __slots__ = ("_hash", "_hashes", "_limits", "_names", "_native", "_stages", "_warnings", "evaluate")

    evaluate: Callable[[Any], Decision]
    """Decide one request. Never raises for anything the request contains.

    Takes plain JSON data shaped like `agt_core.EvaluationRequest` (a dict), an
    `EvaluationRequest`, or another mapping. Raises `EnginePanic` only if the engine itself is
    broken (a bug); the kernel denies then. It is the extension's own method, bound per instance,
    so a governed call enters Rust without a Python frame in between.
    """

    chain_record: Callable[..., tuple[str, str]] = _native.chain_record
    """``chain_record(seq, prev_hash, request_json, decision_json, approval_json) -> (body, hash)``.

    The next audit record, stamped with the current UTC time, laid out as
    `agt_core.audit_record_body` lays it out and hashed as `agt_core.record_hash` hashes it, in
    one call. agent-os's kernel hands it to its `AuditLog` for governed calls decided by this set
    (after checking it against agt-core's functions once).
    """

    def __init__(self, policies: Sequence[ResolvedPolicy]) -> None:
        entries = [
            (
                p.document.model_dump_json(by_alias=True),
                sorted(p.sealed_rules),
                p.content_hash,
                list(p.warnings),
            )
            for p in policies
        ]
        try:
            native = _native.NativePolicySet(entries)
        except _native.CompileError as exc:
            message, policy, path, line, column = exc.args
            source = next((p.source for p in policies if p.document.name == policy), None)
            if line is not None:
                message = f"{message} (line {line}, column {column} of the condition)"
            raise PolicyError(message, file=source, path=path) from None
        self._native = native
        self.evaluate = native.evaluate
        self._hash: str = native.hash
        self._names: tuple[str, ...] = tuple(native.policy_names)
        self._hashes: dict[str, str] = dict(native.policy_hashes)
        self._stages: frozenset[str] = frozenset(native.stages)
        self._limits: dict[tuple[str, str], str] = {(p, r): limit for p, r, limit in native.limits}
        self._warnings: tuple[str, ...] = tuple(native.warnings)

    native_trail: Callable[..., Any] = _native.NativeTrail
    """``native_trail(max_records, max_chars, next_seq, head, anchor_seq, anchor_hash, entries)``.

    A native home for an audit log's chain. agent-os's `AuditLog` moves its state into one when a
    kernel of this set first writes to it (records are laid out and hashed as by `chain_record`);
    a `CallPlan` made with it then appends each record in the same crossing that decides the call.
    """

    def call_plan(
        self,
        tool: str,
        params: Sequence[tuple[str, Any, bool, tuple[type, ...]]],
        agent: Mapping[str, Any],
        context: Mapping[str, Any],
        agent_json: str,
        context_json: str,
        limits: tuple[int, int, int],
        trail: Any = None,
    ) -> Any:
        """A `CallPlan`: one governed function's common calls decided, and recorded, in one crossing.

        agent-os's ``govern()`` makes one per governed function when nothing else in its pipeline
        needs to see the call (no enrichers, guards, observers, rate limits, redaction, post_tool
        rules). ``plan.decide(kwargs)`` returns the `Decision`; ``plan.decide_and_append(kwargs)``
        also appends the call's audit record to ``trail``. Both return None for a call they do not
        cover exactly (an argument that is not
        a short ASCII string, safe integer, bool or None; a missing, unknown or wrongly typed
        argument; a decision that needs an approval), and the caller takes its general path.

        Args:
            tool: The tool's name.
            params: Per parameter, in signature order: ``(name, default, has_default, exact types)``
                (an empty tuple of types accepts any of the covered ones).
            agent: The request's fixed ``agent`` (JSON data).
            context: The request's fixed ``context`` (JSON data).
            agent_json: ``agent``'s canonical JSON.
            context_json: ``context``'s canonical JSON.
            limits: ``(max_items, max_string_length, max_total_chars)`` of the request.
            trail: The audit log's `native_trail`, for ``decide_and_append``.
        """
        return _native.CallPlan(
            self._native,
            tool,
            [(name, default, has_default, list(types)) for name, default, has_default, types in params],
            dict(agent),
            dict(context),
            agent_json,
            context_json,
            limits,
            trail,
        )

    @property
    def evaluator(self) -> str:
        """The name of the evaluator that compiled this set: ``"native"``."""
        return NativeEvaluator.name

    @property
    def hash(self) -> str:
        """``sha256:<hex>`` naming exactly the policies (and so the rules) in this set."""
        return self._hash

    @property
    def policy_names(self) -> tuple[str, ...]:
        """Names of the policies in load order."""
        return self._names

    @property
    def stages(self) -> frozenset[str]:
        """Stages with at least one enabled rule."""
        return self._stages

    @property
    def policy_hashes(self) -> Mapping[str, str]:
        """Policy name -> content hash of the resolved policy."""
        return self._hashes

    @property
    def limits(self) -> Mapping[tuple[str, str], str]:
        """``(policy, rule) -> limit`` for every enabled rule that declares a rate limit."""
        return self._limits

    @property
    def warnings(self) -> tuple[str, ...]:
        """Every warning raised while the policies were loaded."""
        return self._warnings


class NativeEvaluator:
    """The native evaluator, registered as ``native`` in the ``agt.evaluators`` entry points."""

    name = "native"

    def compile(self, policies: Sequence[ResolvedPolicy]) -> NativePolicySet:
        """Compile resolved policies into a `NativePolicySet`.

        Raises:
            PolicyError: If the engine refuses a policy (a condition it cannot compile, a content
                hash that does not match the document, two policies with one name).
        """
        return NativePolicySet(policies)
