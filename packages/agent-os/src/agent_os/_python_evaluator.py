"""The pure-Python evaluator: resolved policies compiled into an indexed, immutable policy set.

Compilation happens once: each rule's condition is compiled from its CEL text (the loader has
compiled the same text to check it, so this is a hit in `agent_os._programs`), rules are grouped
by stage, and each stage gets an index on the field path most rules pin to literal values (usually
``action.type``). Evaluating a request then touches only the rules that can match it.

Why the index is exact: a rule is indexed under path P only when one of its top-level ``&&``
operands is ``P == literal`` or ``P in [literals]`` (a `Pin`). When the request holds a value at
P whose index key is not among the rule's literals and whose kind the pin excludes (null, or the
kind of every literal: see `Pin.excludes_kind`), that operand is false, and in CEL
``false && x`` is false whatever ``x`` does (even if it errors). So skipping the rule gives the
same decision as evaluating it. A value of another kind makes the operand an error, and a
request with no value at P (missing field, wrong shape, an opaque stand-in on the way) too: those
rules are evaluated and fail-closed handling applies as usual.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from agent_os._cel import CelEvalError, CelSyntaxError, Pin, Program, index_key, is_opaque, key_kind, kind_of
from agent_os._programs import program
from agt_core import (
    EFFECT_SEVERITY,
    STAGES,
    Decision,
    MatchedRule,
    PolicyError,
    ResolvedPolicy,
    RuleError,
    policy_content_hash,
    policy_set_hash,
)

__all__ = ["PythonEvaluator", "PythonPolicySet"]

_RESTRICTIVE = frozenset({"deny", "require_approval"})
_ANNOTATIONS = frozenset({"warn", "log"})
"""Effects that annotate a decision and never decide it: reported in ``matched``, never the deciding rule."""
_KINDS = ("string", "number", "bool", "null", "list", "map", "opaque")
"""Every value kind `agent_os._cel.kind_of` returns."""
_STAGE_SET = frozenset(STAGES)
_MISSING = object()
_DECISION_CACHE_MAX = 4096
_AGENT_CACHE_MAX = 4096


class _Rule:
    """One enabled rule, ready to evaluate. Holds everything a decision needs, precomputed."""

    __slots__ = (
        "action",
        "annotation",
        "approvers",
        "errored_entry",
        "evaluate",
        "limit",
        "matched_entry",
        "message",
        "name",
        "order",
        "policy",
        "priority",
        "restrictive",
        "sealed",
        "severity",
        "specificity",
    )

    def __init__(
        self,
        policy: _Policy,
        order: int,
        name: str,
        action: str,
        priority: int,
        message: str,
        approvers: tuple[str, ...],
        limit: str | None,
        sealed: bool,
        program: Program,
    ) -> None:
        self.policy = policy
        self.order = order
        self.name = name
        self.action = action
        self.priority = priority
        self.message = message
        self.approvers = approvers
        self.limit = limit
        self.sealed = sealed
        self.evaluate = program.evaluate_bool
        self.specificity = program.conjunct_count
        self.severity = EFFECT_SEVERITY[action]
        self.restrictive = action in _RESTRICTIVE
        self.annotation = action in _ANNOTATIONS
        self.matched_entry = MatchedRule(policy=policy.name, rule=name, action=action, priority=priority)
        self.errored_entry = MatchedRule(
            policy=policy.name,
            rule=name,
            action=action,
            priority=priority,
            errored=True,
        )


class _StageIndex:
    """The rules of one policy at one stage, indexed on the most-pinned field path.

    For a request value at the path, the rules to evaluate are the unpinned ones, the ones whose
    literals include the value, and the ones whose pin cannot exclude a value of its kind
    (`Pin.excludes_kind`: comparing a number with string literals is an error, not false, so such
    a rule must run and fail closed). Both sets are precomputed: per literal key and per kind.
    """

    __slots__ = ("all_rules", "by_key", "by_kind", "path")

    def __init__(self, rules: Sequence[_Rule], pins: Sequence[dict[tuple[str, ...], Pin]]) -> None:
        self.all_rules: tuple[_Rule, ...] = tuple(rules)
        counts: dict[tuple[str, ...], int] = {}
        for rule_pins in pins:
            for path in rule_pins:
                counts[path] = counts.get(path, 0) + 1
        self.path: tuple[str, ...] | None = None
        self.by_key: dict[Hashable, tuple[_Rule, ...]] = {}
        self.by_kind: dict[str, tuple[_Rule, ...]] = {}
        # An index only pays when it lets us skip several rules.
        if not counts or max(counts.values()) < 2:
            return
        path = max(counts, key=lambda p: (counts[p], -len(p)))
        self.path = path
        unpinned: list[_Rule] = []
        pinned: list[tuple[_Rule, Pin]] = []
        keyed: dict[Hashable, list[_Rule]] = {}
        for rule, rule_pins in zip(rules, pins, strict=True):
            pin = rule_pins.get(path)
            if pin is None:
                unpinned.append(rule)
                continue
            pinned.append((rule, pin))
            for key in pin.keys:
                keyed.setdefault(key, []).append(rule)
        for kind in _KINDS:
            self.by_kind[kind] = _in_order(unpinned, [r for r, pin in pinned if not pin.excludes_kind(kind)])
        for key, keyed_rules in keyed.items():
            self.by_key[key] = _in_order(keyed_rules, self.by_kind[key_kind(key)])

    def candidates(self, request: Mapping[str, Any]) -> tuple[_Rule, ...]:
        path = self.path
        if path is None:
            return self.all_rules
        value: Any = request
        for segment in path:
            # An opaque stand-in is a dict whose one key starts with `$`: only such a segment can
            # step into one, so only then is the (slower) check needed.
            if type(value) is dict and segment in value and (segment[:1] != "$" or not is_opaque(value)):
                value = value[segment]
            else:
                return self.all_rules
        if type(value) is str:  # the common case, `action.type`: skip the generic kind lookup
            return self.by_key.get(value) or self.by_kind["string"]
        key = index_key(value)
        if key is not None:
            found = self.by_key.get(key)
            if found is not None:
                return found
        return self.by_kind[kind_of(value)]


def _in_order(*groups: Sequence[_Rule]) -> tuple[_Rule, ...]:
    """The rules of `groups`, each once, in document order."""
    unique = {id(rule): rule for group in groups for rule in group}
    return tuple(sorted(unique.values(), key=lambda rule: rule.order))


class _Policy:
    """One resolved policy document, compiled."""

    __slots__ = (
        "agent_patterns",
        "default_action",
        "default_message",
        "hash",
        "name",
        "rules",
        "source",
        "stages",
        "strategy",
    )

    def __init__(self, resolved: ResolvedPolicy) -> None:
        doc = resolved.document
        self.name = doc.name
        self.hash = policy_content_hash(doc)
        if resolved.content_hash != self.hash:
            # Decisions and audit records name this hash: it must name exactly these rules.
            raise PolicyError(
                f"policy `{doc.name}` has content_hash `{resolved.content_hash}`, but its document hashes "
                f"to `{self.hash}`",
                help="leave content_hash empty to have it computed, or load the policy with load_policies",
            )
        self.source = resolved.source
        self.default_action: str = doc.default_action
        self.strategy: str = doc.conflict_strategy
        self.agent_patterns: tuple[str, ...] | None = tuple(doc.agents) if doc.agents is not None else None
        self.default_message = (
            f"no rule of policy `{doc.name}` matched; default_action is {doc.default_action}"
        )
        self.rules: list[_Rule] = []
        per_stage: dict[str, tuple[list[_Rule], list[dict[tuple[str, ...], Pin]]]] = {}
        for order, rule in enumerate(doc.rules):
            if not rule.enabled:
                continue
            program = _compile(doc.name, rule.name, rule.condition)
            compiled = _Rule(
                self,
                order,
                rule.name,
                rule.action,
                rule.priority,
                rule.message or rule.description,
                tuple(rule.approvers),
                rule.limit,
                rule.name in resolved.sealed_rules,
                program,
            )
            self.rules.append(compiled)
            stage_rules, stage_pins = per_stage.setdefault(rule.stage, ([], []))
            stage_rules.append(compiled)
            stage_pins.append({pin.path: pin for pin in program.pins})
        self.stages: dict[str, _StageIndex] = {
            stage: _StageIndex(rules, pins) for stage, (rules, pins) in per_stage.items()
        }

    def applies_to(self, agent_id: str) -> bool:
        patterns = self.agent_patterns
        if patterns is None:
            return True
        return any(p == agent_id or fnmatch.fnmatchcase(agent_id, p) for p in patterns)


def _compile(policy: str, rule: str, condition: str) -> Program:
    try:
        return program(condition)
    except CelSyntaxError as exc:
        # Only policies that skipped the loader get here: it refuses these with their position.
        raise PolicyError(f"invalid condition in rule `{rule}` of policy `{policy}`: {exc.message}") from None


def _pick(matched: list[tuple[_Rule, bool]], strategy: str) -> tuple[_Rule, bool]:
    """Resolve several matched rules of one policy into the deciding one."""
    if strategy == "deny_overrides":
        best = max(matched, key=lambda m: (m[0].severity, m[0].priority, -m[0].order))
    elif strategy == "allow_overrides":
        best = max(matched, key=lambda m: (-m[0].severity, m[0].priority, -m[0].order))
    elif strategy == "priority_first_match":
        best = max(matched, key=lambda m: (m[0].priority, -m[0].order))
    else:  # most_specific_wins
        best = max(matched, key=lambda m: (m[0].specificity, m[0].priority, m[0].severity, -m[0].order))
    if strategy != "deny_overrides":
        # An inherited deny or require_approval can never be overridden by a child's rule.
        sealed = [m for m in matched if m[0].sealed and m[0].severity > best[0].severity]
        if sealed:
            best = max(sealed, key=lambda m: (m[0].severity, m[0].priority, -m[0].order))
    return best


class PythonPolicySet:
    """A compiled policy set evaluated in pure Python. Immutable and safe to share between threads.

    Use `agent_os.compile_policies` (``evaluator="python"``) to build one from policy sources.

    Args:
        policies: Resolved policies, as `agent_os.load_policies` returns them.

    Raises:
        PolicyError: If two policies share a name, a condition does not compile, or a policy's
            ``content_hash`` does not match its document.
    """

    def __init__(self, policies: Sequence[ResolvedPolicy]) -> None:
        names = [p.document.name for p in policies]
        if len(set(names)) != len(names):
            duplicate = next(name for name in names if names.count(name) > 1)
            raise PolicyError(f"two policies are named `{duplicate}`", help="policy names must be unique")
        self._policies = tuple(_Policy(p) for p in policies)
        self._hash = policy_set_hash([(p.name, p.hash) for p in self._policies])
        self._names = tuple(names)
        self._stages = frozenset(s for p in self._policies for s in p.stages)
        self._warnings = tuple(w for p in policies for w in p.warnings)
        self._limits = {
            (p.name, r.name): r.limit for p in self._policies for r in p.rules if r.limit is not None
        }
        self._decisions: dict[Hashable, Decision] = {}
        self._applicable: dict[str, tuple[_Policy, ...]] = {}

    # -- the PolicySet protocol -------------------------------------------------------------

    @property
    def evaluator(self) -> str:
        """The name of the evaluator that compiled this set: ``"python"``."""
        return PythonEvaluator.name

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
    def warnings(self) -> tuple[str, ...]:
        """Every warning raised while the policies were loaded."""
        return self._warnings

    @property
    def policy_hashes(self) -> Mapping[str, str]:
        """Policy name -> content hash of the resolved policy."""
        return {p.name: p.hash for p in self._policies}

    @property
    def limits(self) -> Mapping[tuple[str, str], str]:
        """``(policy, rule) -> limit`` for every enabled rule that declares a rate limit."""
        return self._limits

    def evaluate(self, request: Any) -> Decision:
        """Decide one request. Never raises for anything the request contains.

        Args:
            request: Plain JSON data shaped like `agt_core.EvaluationRequest` (a dict), or an
                `EvaluationRequest`.
        """
        if type(request) is not dict:
            to_data = getattr(request, "to_data", None)
            if callable(to_data):
                request = to_data()
            elif isinstance(request, Mapping):
                request = dict(request)
            else:
                return self._refuse(f"request is a `{type(request).__name__}`, not a mapping", "pre_tool")
        stage = request.get("stage", _MISSING)
        if stage is _MISSING:
            # No stage means pre_tool, and conditions must see it that way too.
            stage = "pre_tool"
            request = {**request, "stage": stage}
        elif type(stage) is not str or stage not in _STAGE_SET:
            return self._refuse(f"request has unknown stage `{stage}`", "pre_tool")
        agent = request.get("agent")
        agent_id = agent.get("id") if type(agent) is dict else None
        if type(agent_id) is not str:
            return self._refuse("request has no `agent.id` string", stage)
        applicable = self._applicable.get(agent_id)
        if applicable is None:
            applicable = tuple(p for p in self._policies if p.applies_to(agent_id))
            if len(self._applicable) >= _AGENT_CACHE_MAX:
                self._applicable.clear()
            self._applicable[agent_id] = applicable
        if not applicable:
            return self._refuse(f"no policy applies to agent `{agent_id}`", stage)

        matched: list[tuple[_Rule, bool]] = []
        errors: list[RuleError] | None = None
        # The deciding outcome so far: (severity, policy, rule or None for its default, errored).
        best: tuple[int, _Policy, _Rule | None, bool] | None = None
        for policy in applicable:
            index = policy.stages.get(stage)
            policy_matched: list[tuple[_Rule, bool]] | None = None
            if index is not None:
                for rule in index.candidates(request):
                    try:
                        if not rule.evaluate(request):
                            continue
                        errored = False
                    except CelEvalError as exc:
                        if errors is None:
                            errors = []
                        errors.append(RuleError(policy=policy.name, rule=rule.name, message=str(exc)))
                        # Fail closed: a restrictive rule that cannot be evaluated counts as matched,
                        # a permissive one as not matched.
                        if not rule.restrictive:
                            continue
                        errored = True
                    if policy_matched is None:
                        policy_matched = []
                    policy_matched.append((rule, errored))
            outcome: tuple[int, _Policy, _Rule | None, bool]
            # warn and log rules annotate: they are reported in `matched`, but only allow, deny and
            # require_approval rules (or the default) decide, so a log rule never grants access.
            deciders = policy_matched and [m for m in policy_matched if not m[0].annotation]
            if deciders:
                rule, errored = _pick(deciders, policy.strategy)
                outcome = (rule.severity, policy, rule, errored)
            else:
                outcome = (EFFECT_SEVERITY[policy.default_action], policy, None, False)
            if policy_matched:
                matched.extend(policy_matched)
            # Several policies: the most restrictive outcome wins; ties go to the earlier policy.
            if best is None or outcome[0] > best[0]:
                best = outcome
        assert best is not None
        return self._decide(best[1], best[2], best[3], matched, errors, stage)

    # -- building decisions -----------------------------------------------------------------

    def _decide(
        self,
        policy: _Policy,
        rule: _Rule | None,
        errored: bool,
        matched: list[tuple[_Rule, bool]],
        errors: list[RuleError] | None,
        stage: str,
    ) -> Decision:
        key: Hashable = None
        if errors is None:
            # Without errors the decision is a function of these alone, so equal ones are shared.
            key = (stage, policy, rule, *[r for r, _ in matched]) if matched else (stage, policy, rule)
            cached = self._decisions.get(key)
            if cached is not None:
                return cached
        approvers: tuple[str, ...] = ()
        if rule is None:
            effect, message = policy.default_action, policy.default_message
            failed = [e for e in errors or () if e.policy == policy.name]
            if failed:
                # The default decided only because these permissive rules could not be evaluated.
                notes = "; ".join(f"rule `{e.rule}` could not be evaluated ({e.message})" for e in failed)
                message = f"{message}; {notes}"
        else:
            effect, approvers = rule.action, rule.approvers
            # No generated text here: GovernanceDenied and the audit record already name the rule.
            message = rule.message
            if errored and errors:
                failure = next((e.message for e in errors if e.rule == rule.name), "")
                note = f"condition could not be evaluated ({failure}); a restrictive rule fails closed"
                message = f"{message} ({note})" if message else note
        # Each matched warn or log rule's own message is part of the decision (so the kernel's
        # notice and the audit record carry it), whatever the decision is.
        annotations = [
            f"{r.action} `{r.name}`: {r.message}" for r, _ in matched if r.annotation and r.message
        ]
        if annotations:
            message = "; ".join([message, *annotations]) if message else "; ".join(annotations)
        allowed = effect == "allow"
        if allowed:
            # An allowing decision carries the most severe annotation that matched (warn > log), so
            # consumers see "allowed, with a warning"; `rule` stays the allow rule (or None: the
            # default). A deny or require_approval decision keeps its effect: annotations never grant.
            for annotated, _ in matched:
                if annotated.action == "warn":
                    effect = "warn"
                    break
                if annotated.action == "log":
                    effect = "log"
        decision = Decision(
            effect=effect,
            allowed=allowed,
            rule=rule.name if rule is not None else None,
            policy=policy.name,
            policy_hash=policy.hash,
            policy_set_hash=self._hash,
            message=message,
            stage=stage,
            # Candidates come in rule order and policies in load order, so `matched` is in document order.
            matched=tuple(r.errored_entry if e else r.matched_entry for r, e in matched),
            errors=tuple(errors or ()),
            conflict_strategy=policy.strategy,
            approvers=approvers,
            evaluator=PythonEvaluator.name,
        )
        if key is not None:
            if len(self._decisions) >= _DECISION_CACHE_MAX:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision

    def _refuse(self, reason: str, stage: str) -> Decision:
        return Decision(
            effect="deny",
            allowed=False,
            message=reason,
            stage=stage,
            policy_set_hash=self._hash,
            errors=(RuleError(policy=None, rule=None, message=reason),),
            evaluator=PythonEvaluator.name,
        )


class PythonEvaluator:
    """The pure-Python evaluator, registered as ``python`` in the ``agt.evaluators`` entry points."""

    name = "python"

    def compile(self, policies: Sequence[ResolvedPolicy]) -> PythonPolicySet:
        """Compile resolved policies into a `PythonPolicySet`.

        Raises:
            PolicyError: If a condition does not compile or the policies are inconsistent.
        """
        return PythonPolicySet(policies)
