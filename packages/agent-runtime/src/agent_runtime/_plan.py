"""Execution plans: judge every step of an agent's plan before any of it runs, then run it checked.

`validate_plan` builds, for every step, the request its tool call would make, runs it through
the registered enrichers and guards (rings, command policy, kill switch, ...) and the policy
with rate limits counted across the plan, and reports every step that would be refused. Plan
bounds (length, total estimated cost, dependencies that point backwards) are checked first.

Forbidden sequences are policy, not code: each step's request carries ``context.plan`` with
the tools and action types of the steps before it, so a rule such as::

    - name: no-exfiltration
      condition: "action.tool == 'http_post' && 'read_secret' in context.plan.previous_tools"
      action: deny

refuses a network call that follows a secret read, in validation and at run time alike.

`execute_plan` runs the steps in order through governed tools, passing ``context.plan`` with
`agent_os.governance_context`, so each call is re-judged with its real arguments (values that
earlier steps produced are substituted for ``{"$step": i}`` references) and audited; it stops at
the first refusal or error.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Plan", "PlanReport", "PlanRun", "PlanStep", "StepReport", "execute_plan", "validate_plan"]


class PlanStep(BaseModel):
    """One proposed tool call.

    Attributes:
        tool: The tool's name (as governed).
        args: Its arguments. A value ``{"$step": i}`` stands for the result of step ``i``
            (``{"$step": i, "key": "k"}`` for one key of it); it is known only at run time.
        action: The action type, when it differs from the tool name.
        depends_on: Indexes of earlier steps this one needs.
        cost: Estimated cost (any unit the plan's bound uses).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)
    action: str | None = None
    depends_on: tuple[int, ...] = ()
    cost: float = Field(default=0.0, ge=0)


class Plan(BaseModel):
    """An ordered list of steps, proposed by one agent.

    Attributes:
        steps: The steps, in the order they would run.
        agent_id: The proposing agent (``agent.id``).
        agent: Extra agent attributes for the requests.
        context: Extra context for every step's request.
        max_steps: Longest plan accepted.
        max_cost: Highest total estimated cost accepted (None: no bound).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: tuple[PlanStep, ...]
    agent_id: str = "default"
    agent: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    max_steps: int = Field(default=50, ge=1)
    max_cost: float | None = Field(default=None, ge=0)


class StepReport(BaseModel):
    """What validation (or execution) concluded about one step."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int
    tool: str
    allowed: bool
    effect: str
    reason: str
    refused_by: str | None = None
    rule: str | None = None
    needs_approval: bool = False
    runtime_args: bool = False


class PlanReport(BaseModel):
    """The validation of a whole plan.

    Attributes:
        ok: Every step would be allowed (possibly after approval) and no bound is exceeded.
        problems: Plan-level refusals (length, cost, dependencies).
        steps: One report per step, in order.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    problems: tuple[str, ...]
    steps: tuple[StepReport, ...]

    @property
    def refused(self) -> tuple[StepReport, ...]:
        """The steps that would be refused."""
        return tuple(s for s in self.steps if not s.allowed and not s.needs_approval)


class PlanRun(BaseModel):
    """The outcome of `execute_plan`.

    Attributes:
        completed: Indexes of the steps that ran, in order.
        results: Their results, by index.
        stopped_at: The step that was refused or failed, if any.
        reason: Why execution stopped early.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    completed: tuple[int, ...]
    results: dict[int, Any]
    stopped_at: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Every step ran."""
        return self.stopped_at is None


def _plan_problems(plan: Plan) -> list[str]:
    problems: list[str] = []
    if len(plan.steps) > plan.max_steps:
        problems.append(f"the plan has {len(plan.steps)} steps; at most {plan.max_steps} are allowed")
    total = sum(step.cost for step in plan.steps)
    if plan.max_cost is not None and total > plan.max_cost:
        problems.append(f"the plan's estimated cost {total:g} exceeds the bound {plan.max_cost:g}")
    for i, step in enumerate(plan.steps):
        for dep in step.depends_on:
            if not 0 <= dep < i:
                problems.append(f"step {i} depends on step {dep}, which does not run before it")
        for ref in _refs(step.args):
            if not 0 <= ref < i:
                problems.append(f"step {i} uses the result of step {ref}, which does not run before it")
    return problems


def _refs(value: Any) -> list[int]:
    found: list[int] = []
    if isinstance(value, Mapping):
        if "$step" in value:
            ref = value["$step"]
            found.append(ref if type(ref) is int else -1)
        else:
            for item in value.values():
                found += _refs(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            found += _refs(item)
    return found


def _plan_context(plan: Plan, index: int) -> dict[str, Any]:
    from agent_os import normalize_action

    before = plan.steps[:index]
    return {
        "index": index,
        "length": len(plan.steps),
        "previous_tools": [s.tool for s in before],
        "previous_actions": [normalize_action(s.action or s.tool) for s in before],
        "cost_so_far": sum(s.cost for s in before),
        "total_cost": sum(s.cost for s in plan.steps),
    }


def _merge(request: dict[str, Any], additions: Mapping[str, Any]) -> None:
    for key in ("agent", "context"):
        extra = additions.get(key)
        if isinstance(extra, Mapping):
            merged = dict(request[key])
            merged.update(extra)
            if key == "agent":
                merged["id"] = request["agent"]["id"]
            request[key] = merged


def validate_plan(
    plan: Plan | Mapping[str, Any],
    policy: Any,
    *,
    enrichers: Sequence[Any] = (),
    guards: Sequence[Any] = (),
    pipeline: Any = None,
) -> PlanReport:
    """Judge every step of `plan` before any runs; report every step that would be refused.

    Args:
        plan: The plan (a `Plan` or its data).
        policy: A policy source `govern` accepts (path, YAML text, dict, list) or a `PolicySet`.
        enrichers: Extra enrichers, run after the pipeline's (e.g. a `Rings` enricher).
        guards: Extra guards, run after the pipeline's (e.g. a `Rings` guard, a `CommandGuard`).
        pipeline: Whose registered extensions apply (default: ``agent_os.pipeline()``).

    Rate limits are counted across the plan with a fresh limiter: the report says whether the
    plan fits the limits on its own, not how much of them other calls have used.
    """
    import agent_os
    from agt_core import PolicySet

    the_plan = plan if isinstance(plan, Plan) else Plan.model_validate(plan)
    policy_set = policy if isinstance(policy, PolicySet) else agent_os.compile_policies(policy)
    pipe = pipeline if pipeline is not None else agent_os.pipeline()
    kernel = agent_os.Kernel(policy_set, audit=None, rate_limiter=agent_os.RateLimiter(), pipeline=pipe)
    all_enrichers = (*pipe.enrichers, *enrichers)
    all_guards = (*pipe.guards, *guards)
    problems = _plan_problems(the_plan)
    reports: list[StepReport] = []
    for i, step in enumerate(the_plan.steps):
        reports.append(_judge_step(the_plan, i, step, kernel, all_enrichers, all_guards))
    ok = not problems and all(r.allowed or r.needs_approval for r in reports)
    return PlanReport(ok=ok, problems=tuple(problems), steps=tuple(reports))


def _judge_step(
    plan: Plan, index: int, step: PlanStep, kernel: Any, enrichers: Sequence[Any], guards: Sequence[Any]
) -> StepReport:
    from agent_os import normalize_action, to_json_data

    runtime = bool(_refs(step.args))
    try:
        args = to_json_data(_placeholders(step.args))
        request: dict[str, Any] = {
            "action": {"type": normalize_action(step.action or step.tool), "tool": step.tool},
            "args": args,
            "agent": {**to_json_data(plan.agent), "id": plan.agent_id},
            "context": {**to_json_data(plan.context), "plan": _plan_context(plan, index)},
            "stage": "pre_tool",
        }
    except Exception as exc:
        return StepReport(index=index, tool=step.tool, allowed=False, effect="deny", reason=f"{exc}",
                          refused_by="kernel:request", runtime_args=runtime)  # fmt: skip
    for enricher in enrichers:
        try:
            additions = enricher.enrich(copy.deepcopy(request))
        except Exception as exc:
            return StepReport(index=index, tool=step.tool, allowed=False, effect="deny", reason=str(exc),
                              refused_by=f"enricher:{enricher.name}", runtime_args=runtime)  # fmt: skip
        if additions:
            _merge(request, additions)
    for guard in guards:
        try:
            reason = guard.check(request)
        except Exception as exc:
            reason = f"guard failed: {exc}"
        if reason is not None:
            return StepReport(index=index, tool=step.tool, allowed=False, effect="deny", reason=reason,
                              refused_by=f"guard:{guard.name}", runtime_args=runtime)  # fmt: skip
    decision = kernel.decide(request)
    return StepReport(
        index=index,
        tool=step.tool,
        allowed=decision.allowed,
        effect=decision.effect,
        reason=decision.message,
        refused_by=decision.refused_by,
        rule=decision.rule,
        needs_approval=decision.effect == "require_approval",
        runtime_args=runtime,
    )


def _placeholders(value: Any) -> Any:
    """Arguments for validation: a ``{"$step": i}`` reference stays a map (its value is unknown)."""
    if isinstance(value, Mapping):
        return {str(k): _placeholders(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_placeholders(v) for v in value]
    return value


def _resolve(value: Any, results: Mapping[int, Any]) -> Any:
    if isinstance(value, Mapping):
        if "$step" in value:
            result = results[value["$step"]]
            if "key" in value:
                if not isinstance(result, Mapping) or value["key"] not in result:
                    raise KeyError(f"step {value['$step']}'s result has no key {value['key']!r}")
                return result[value["key"]]
            return result
        return {k: _resolve(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, results) for v in value]
    return value


def execute_plan(
    plan: Plan | Mapping[str, Any],
    tools: Mapping[str, Callable[..., Any]],
    *,
    validate_with: Any = None,
) -> PlanRun:
    """Run `plan` step by step through governed tools; stop at the first refusal or error.

    Args:
        plan: The plan.
        tools: Tool name -> the tool *governed* with `agent_os.govern` (each call is re-judged and
            audited; an ungoverned tool is refused before anything runs).
        validate_with: A policy to validate the whole plan with first; a plan that fails
            validation does not start.

    Every call runs inside ``governance_context(plan=...)``, so ``context.plan`` is on its request.
    """
    from agent_os import GovernanceDenied, governance_context

    the_plan = plan if isinstance(plan, Plan) else Plan.model_validate(plan)
    problems = _plan_problems(the_plan)
    if problems:
        return PlanRun(completed=(), results={}, stopped_at=0, reason=problems[0])
    for i, step in enumerate(the_plan.steps):
        fn = tools.get(step.tool)
        if fn is None:
            return PlanRun(completed=(), results={}, stopped_at=i, reason=f"no tool named {step.tool!r}")
        if getattr(fn, "kernel", None) is None or getattr(fn, "policy_set", None) is None:
            return PlanRun(completed=(), results={}, stopped_at=i,
                           reason=f"tool {step.tool!r} is not governed; wrap it with agent_os.govern")  # fmt: skip
    if validate_with is not None:
        report = validate_plan(the_plan, validate_with)
        if not report.ok:
            first = report.problems[0] if report.problems else _first_refusal(report)
            index = next((s.index for s in report.steps if not (s.allowed or s.needs_approval)), 0)
            return PlanRun(completed=(), results={}, stopped_at=index, reason=f"validation: {first}")
    completed: list[int] = []
    results: dict[int, Any] = {}
    for i, step in enumerate(the_plan.steps):
        try:
            args = _resolve(step.args, results)
        except (KeyError, IndexError) as exc:
            return PlanRun(completed=tuple(completed), results=results, stopped_at=i, reason=str(exc))
        if step.action is not None:
            args = {"action": step.action, **args}
        try:
            with governance_context(plan=_plan_context(the_plan, i)):
                results[i] = tools[step.tool](**args)
        except GovernanceDenied as exc:
            return PlanRun(
                completed=tuple(completed), results=results, stopped_at=i, reason=f"refused: {exc.message}"
            )
        except Exception as exc:
            return PlanRun(completed=tuple(completed), results=results, stopped_at=i,
                           reason=f"step failed: {type(exc).__name__}: {exc}")  # fmt: skip
        completed.append(i)
    return PlanRun(completed=tuple(completed), results=results)


def _first_refusal(report: PlanReport) -> str:
    for step in report.steps:
        if not (step.allowed or step.needs_approval):
            return f"step {step.index} ({step.tool}): {step.reason}"
    return "the plan is not valid"  # pragma: no cover - only called when something failed
