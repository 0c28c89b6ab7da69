"""The evaluator boundary: resolved policies in, a compiled `PolicySet` out.

agent-os loads and checks policy files (YAML positions, ``extends``, condition syntax) and hands
every evaluator the same plain data: one `ResolvedPolicy` per policy. An evaluator (the pure
Python one in agent-os, the native one in agt-evaluator) compiles the rule conditions itself,
from their CEL text, and must decide exactly as the conformance vectors in ``conformance/`` say.

The semantics an evaluator must share, as data and rules rather than as code:

* **warn and log annotate; they never grant.** Only allow, deny and require_approval rules (and
  a policy's ``default_action``) decide: a policy whose matched rules are all warn/log decides
  its default, and no conflict strategy ever picks a warn or log rule. Every matched rule, warn
  and log included, is in ``Decision.matched``, and each matched warn/log rule's message is
  appended to the decision's message as ``<action> `<rule>`: <message>``. A decision that allows
  (an allow rule or an allow default decided) carries the most severe matched annotation as its
  effect (``warn`` if any warn rule matched, else ``log`` if any log rule did, across every
  applicable policy), with ``allowed`` true and ``rule`` still the deciding allow rule (None for
  a default); a deny or require_approval decision keeps its effect.
* **Effect severity** (`EFFECT_SEVERITY`): allow < log < warn < require_approval < deny; among
  deciding rules and defaults only allow < require_approval < deny ever compare. Across policies
  the most restrictive outcome wins (ties go to the earlier policy); under ``deny_overrides`` the
  most severe matched deciding rule wins (ties: higher ``priority``, then the earlier rule), under
  ``allow_overrides`` the least severe.
* **Specificity** (for ``most_specific_wins``): the number of operands of the condition's
  top-level ``&&`` chain, counted on the parsed expression: ``and`` is ``&&``, parentheses only
  group, and an operand that is itself an ``&&`` chain (``a && (b && c)``, ``(a && b) && c``)
  counts its own operands, so both of those have 3. Any other operand counts once, whatever it
  holds (``a && (b || c)`` has 2, ``!(a && b)`` has 1). A condition whose top level is not
  ``&&`` (``a || b``, ``true``, ``x ? a && b : c``) has 1. Ties: higher ``priority``, then the more
  severe effect, then the earlier rule.
* **Policy hash** (`policy_content_hash`): ``sha256:<hex>`` of the canonical JSON of the resolved
  document as `PolicyDocument.model_dump(mode="json", by_alias=True)` writes it: every field,
  defaults included, ``extends`` empty, parents' rules first. ``conformance/policy/hashes.json``
  pins values.
* **Policy-set hash** (`policy_set_hash`): ``sha256:<hex>`` of the canonical JSON of the list
  ``[{"name": <policy name>, "hash": <policy hash>}, ...]`` in load order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agt_core._canonical import content_hash
from agt_core._policy import PolicyDocument
from agt_core._policy_set import PolicySet

__all__ = [
    "EFFECT_SEVERITY",
    "Evaluator",
    "ResolvedPolicy",
    "policy_content_hash",
    "policy_set_hash",
]

EFFECT_SEVERITY: Mapping[str, int] = {"allow": 0, "log": 1, "warn": 2, "require_approval": 3, "deny": 4}
"""How restrictive each effect is: the larger, the more restrictive."""


def policy_content_hash(document: PolicyDocument) -> str:
    """``sha256:<hex>`` of the resolved document's canonical JSON (every field, defaults included)."""
    return content_hash(document.model_dump(mode="json", by_alias=True))


def policy_set_hash(policies: Sequence[tuple[str, str]]) -> str:
    """``sha256:<hex>`` over ``[{"name": name, "hash": hash}, ...]`` for ``(name, hash)`` in load order."""
    return content_hash([{"name": name, "hash": digest} for name, digest in policies])


class ResolvedPolicy(BaseModel):
    """One policy, checked and with ``extends`` resolved: what every evaluator compiles.

    Attributes:
        document: The resolved document: the parents' rules first (in ``extends`` order, depth
            first, each parent file once), then the policy's own; ``extends`` is empty.
        sealed_rules: Names of inherited rules whose action is deny or require_approval; no rule
            of the policy's own may override them, under any conflict strategy.
        source: The file the policy came from, or None for YAML text, a dict or a model.
        content_hash: `policy_content_hash` of `document`.
        warnings: Every `PolicyWarning` message raised while loading this policy.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    document: PolicyDocument
    sealed_rules: frozenset[str] = frozenset()
    source: str | None = None
    content_hash: str = Field(default="", description="Filled from the document when left empty.")
    warnings: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _fill_hash(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("content_hash"):
            document = data.get("document")
            if isinstance(document, PolicyDocument):
                data = {**data, "content_hash": policy_content_hash(document)}
        return data

    @model_validator(mode="after")
    def _check(self) -> ResolvedPolicy:
        if self.document.extends:
            raise ValueError("a resolved policy has no `extends`: resolve it with agent_os.load_policies")
        names = {rule.name for rule in self.document.rules}
        unknown = sorted(self.sealed_rules - names)
        if unknown:
            raise ValueError(f"sealed rules {unknown} are not rules of policy `{self.document.name}`")
        if not self.content_hash:
            object.__setattr__(self, "content_hash", policy_content_hash(self.document))
        return self


@runtime_checkable
class Evaluator(Protocol):
    """Compiles resolved policies into a `PolicySet`.

    Register an implementation under the ``agt.evaluators`` entry-point group (the name is what
    ``compile_policies(..., evaluator=<name>)`` selects); agent-os finds it without importing it.

    Attributes:
        name: The registered name (``"python"``, ``"native"``).
    """

    name: str

    def compile(self, policies: Sequence[ResolvedPolicy]) -> PolicySet:
        """Compile once. Raise `PolicyError` for a condition this evaluator cannot compile."""
        ...
