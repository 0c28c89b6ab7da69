"""``agt verify``: attack a deployment per OWASP ASI01-ASI10 and report evidence.

Every probe is decided by the user's own compiled policies (the evaluator `govern()` uses);
package-backed checks open the user's own command policy, kill switch store, circuit breaker
settings and audit trail. A check that cannot run says why (most often: a package is missing or
the deployment file does not name the thing to check) and is never counted as a pass.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from agent_compliance._audit import verify_audit
from agent_compliance._config import DeploymentConfig
from agent_compliance._lint import LoadFailed, load_error_finding
from agent_compliance._locate import policy_positions
from agent_compliance._optional import installed, missing_note
from agent_compliance._policy_cases import decision_evidence
from agent_compliance._probes import COMMAND_EVASIONS, PROBES, RISKS, Probe
from agent_compliance._report import CheckResult, Finding, Location, Report, RiskResult, RuleInfo
from agent_compliance._requests import UsageError

if TYPE_CHECKING:
    from agt_core import Decision, PolicySet, ResolvedPolicy

__all__ = ["ADVICE", "run_verify"]

ADVICE: dict[str, str] = {
    "ASI01": "deny or hold for approval every tool that sends data out (mail, HTTP, uploads) to addresses "
    "outside your domain",
    "ASI02": "deny by default (`default_action: deny`) and allow the tools agents need: a deny-list misses "
    "renamed tools; judge arguments where they are, including nested ones",
    "ASI03": "allow privileged tools only to named agents (`agents:` or `agent.id` conditions) and bind "
    "calls to signed identities with agent-mesh (MeshBinding)",
    "ASI04": "deny package installs, plugin loads and new tool servers at run time",
    "ASI05": "deny shell and code-execution tools, or run them under an agent-runtime command policy "
    "(`command_policy:` in the deployment file)",
    "ASI06": "deny or hold for approval writes to memory, knowledge bases and the agent's own instructions",
    "ASI07": "allow messages and delegation only to known agents, over agent-mesh channels",
    "ASI08": "put rate limits (`limit:`) on tools that can fan out and an agent-sre circuit breaker "
    "(`circuit_breaker:` in the deployment file) in front of failing tools",
    "ASI09": "require approval, with named `approvers`, for payments, mail and account changes",
    "ASI10": "deny unknown agents and unlisted tools, configure an agent-sre kill switch (`kill_switch:`) "
    "and a verified audit trail (`audit:`)",
}

_RISK_RULES = {
    risk: RuleInfo(id=risk, name=name, description=f"OWASP Agentic Top 10: {name}")
    for risk, name in RISKS.items()
}
_STOPPING = frozenset({"deny", "require_approval"})

Check = Callable[[], CheckResult]


def run_verify(
    policy_sources: Sequence[str], config: DeploymentConfig | None, config_path: str | None
) -> Report:
    """Run every probe and check; the report's findings are the risks not fully covered.

    Raises:
        LoadFailed: when the policies do not load.
        UsageError: when no policy is given.
    """
    from agent_os import compile_policies, load_policies
    from agt_core import PolicyError, PolicyWarning

    sources = list(policy_sources) or (list(config.policies) if config else [])
    if not sources:
        raise UsageError("give the policies to verify: --policy PATH, or `policies:` in --config")
    config = config or DeploymentConfig()
    report = Report(
        command="verify",
        rules=dict(_RISK_RULES),
        artifacts=[*sources, *([config_path] if config_path else [])],
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PolicyWarning)
            loaded = load_policies(sources)
            policy_set = compile_policies(sources)
    except PolicyError as err:
        report.findings.append(load_error_finding(err))
        raise LoadFailed(report) from err
    applying = [p for p in loaded if _applies(p.document.agents, config.agent_id)]
    if not applying:
        raise UsageError(
            f"no policy applies to agent `{config.agent_id}` (every policy is scoped with `agents:`), so every "
            "probe would be refused by the kernel and the run would show nothing; set `agent_id:` in the "
            "deployment file (or --agent-id) to one of your agents"
        )
    skipped = [p.document.name for p in loaded if p not in applying]
    where = _Locator(loaded, config_path or _first_file(sources))
    evaluator = getattr(policy_set, "evaluator", "unknown")
    report.lines.append(
        f"verifying {len(loaded)} polic{'y' if len(loaded) == 1 else 'ies'} "
        f"({', '.join(p.document.name for p in loaded)}) with the {evaluator} evaluator, as agent `{config.agent_id}`"
    )
    conditions = {(p.document.name, r.name): r.condition for p in loaded for r in p.document.rules}
    if skipped:
        report.lines.append(
            f"not exercised: polic{'y' if len(skipped) == 1 else 'ies'} {', '.join(f'`{n}`' for n in skipped)} "
            f"do(es) not apply to agent `{config.agent_id}`; run again with another agent_id to attack them"
        )
    extra = _package_checks(policy_set, config, conditions)
    for risk, name in RISKS.items():
        checks = [_probe_check(policy_set, probe, config.agent_id) for probe in PROBES if probe.risk == risk]
        checks += [check() for check in extra.get(risk, [])]
        status = _status(checks)
        reason = config.not_applicable.get(risk)
        if reason is not None:
            status = "not-applicable"
        advice = (ADVICE[risk],) if status not in ("pass", "not-applicable") else ()
        report.risks.append(
            RiskResult(id=risk, name=name, status=status, checks=tuple(checks), advice=advice, reason=reason)
        )
        report.findings.extend(_findings(risk, name, status, checks, where))
    report.summary = {
        "policies": [p.document.name for p in loaded],
        "evaluator": str(evaluator),
        "agent_id": config.agent_id,
        "not_exercised": skipped,
        "risks": {r.id: r.status for r in report.risks},
    }
    return report


def _applies(patterns: Sequence[str] | None, agent_id: str) -> bool:
    """Whether a policy's `agents` patterns cover `agent_id` (`*` any run, `?` one character)."""
    if patterns is None:
        return True
    import re

    for pattern in patterns:
        regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
        if re.fullmatch(regex, agent_id, flags=re.DOTALL):
            return True
    return False


def _first_file(sources: Sequence[str]) -> str:
    return sources[0]


class _Locator:
    """Points a finding at the policy (and line) that decided a probe."""

    def __init__(self, loaded: Sequence[ResolvedPolicy], fallback: str) -> None:
        self.fallback = fallback
        self.sources = {p.document.name: p.source for p in loaded}

    def decision(self, evidence: dict[str, Any]) -> Location:
        policy = evidence.get("policy")
        source = self.sources.get(policy) if isinstance(policy, str) else None
        if source is None:
            return Location(file=self.fallback)
        positions = policy_positions(source).get(policy) if isinstance(policy, str) else None
        rule = evidence.get("rule")
        spot = None
        if positions is not None:
            spot = (
                positions.rules.get(rule) if isinstance(rule, str) else positions.keys.get("default_action")
            )
            spot = spot or positions.start
        if spot is None:
            return Location(file=source)
        return Location(file=source, line=spot.line, column=spot.column)

    def general(self) -> Location:
        return Location(file=self.fallback)


def _stopped(decision: Decision, expect: str) -> tuple[bool, str]:
    if decision.effect == "deny":
        return True, "denied"
    if decision.effect == "require_approval":
        if expect == "approval" and not decision.approvers:
            return False, "held for approval, but the rule names no approvers"
        return True, f"held for approval by {', '.join(decision.approvers) or 'an approval handler'}"
    return False, f"got through ({decision.effect})"


def _probe_check(policy_set: PolicySet, probe: Probe, agent_id: str) -> CheckResult:
    request = probe.request(agent_id)
    decision = policy_set.evaluate(request)
    stopped, how = _stopped(decision, probe.expect)
    evidence = {"probe": probe.id, "request": request, "decision": decision_evidence(decision)}
    return CheckResult(
        name=f"{probe.id}: {probe.title}",
        status="pass" if stopped else "fail",
        kind="probe",
        detail=f"{how}: {decision.summary()}",
        evidence=(evidence,),
    )


def _status(checks: Sequence[CheckResult]) -> Any:
    # A library check on fresh identities says nothing about the deployment when it passes, so
    # only its failure (or its not running) counts: it can lower a risk, never raise it.
    statuses = {c.status for c in checks if not (c.kind == "library" and c.status == "pass")}
    if not statuses:
        return "pass"
    if statuses == {"pass"}:
        return "pass"
    if statuses == {"not-run"}:
        return "not-run"
    if "pass" not in statuses:
        return "fail"
    return "partial"


def _findings(
    risk: str, name: str, status: str, checks: Sequence[CheckResult], where: _Locator
) -> list[Finding]:
    if status in ("pass", "not-applicable"):
        return []
    level: Any = "error" if status == "fail" else "warning"
    found = []
    for check in checks:
        if check.status == "pass":
            continue
        decided = check.evidence[0].get("decision") if check.evidence else None
        location = where.decision(decided) if isinstance(decided, dict) else where.general()
        found.append(
            Finding(
                rule_id=risk,
                # A control that fails (a tampered trail, an evasion through the command policy, no
                # kill switch) is an error even when the risk's probes pass.
                level="note" if check.status == "not-run" else "error" if check.kind == "control" else level,
                message=f"{risk} {name}: {check.name}: {check.detail}",
                location=location,
                help=ADVICE[risk],
                evidence=check.evidence,
            )
        )
    return found


# -- checks that use the other toolkit packages ---------------------------------------------------


def _package_checks(
    policy_set: PolicySet, config: DeploymentConfig, conditions: dict[tuple[str, str], str]
) -> dict[str, list[Check]]:
    return {
        "ASI03": [lambda: _signed_requests_check(config), _delegation_check],
        "ASI05": [lambda: _command_policy_check(config)],
        "ASI07": [_channel_check],
        "ASI08": [lambda: _rate_limit_check(policy_set, config, conditions), lambda: _breaker_check(config)],
        "ASI10": [lambda: _kill_switch_check(config), lambda: _audit_check(config)],
    }


def _not_run(name: str, detail: str, requires: str | None = None, kind: Any = "control") -> CheckResult:
    return CheckResult(name=name, status="not-run", detail=detail, requires=requires, kind=kind)


def _command_policy_check(config: DeploymentConfig) -> CheckResult:
    name = "command policy stops shell evasions"
    if not installed("agent-runtime"):
        return _not_run(name, missing_note("agent-runtime"), "agent-runtime")
    if config.command_policy is None:
        return _not_run(name, "no `command_policy:` in the deployment file", "agent-runtime")
    from agent_runtime import load_command_policy
    from agt_core import PolicyError

    try:
        policy = load_command_policy(config.command_policy)
    except PolicyError as exc:
        raise UsageError(f"command policy `{config.command_policy}`: {exc}") from None
    through = []
    evidence = []
    for label, line in COMMAND_EVASIONS:
        decision = policy.check(line)
        evidence.append(
            {
                "command": line,
                "evasion": label,
                "allowed": decision.allowed,
                "rule": decision.rule,
                "message": decision.message,
            }
        )
        if decision.allowed:
            through.append(f"{label} (`{line}`)")
    if through:
        return CheckResult(
            name=name,
            status="fail",
            detail=f"{len(through)} of {len(COMMAND_EVASIONS)} evasions allowed: {'; '.join(through)}",
            requires="agent-runtime",
            evidence=tuple(e for e in evidence if e["allowed"]),
        )
    return CheckResult(
        name=name,
        status="pass",
        detail=f"all {len(COMMAND_EVASIONS)} evasions refused by `{config.command_policy}`",
        requires="agent-runtime",
        evidence=tuple(evidence),
    )


def _rate_limit_check(
    policy_set: PolicySet, config: DeploymentConfig, conditions: dict[tuple[str, str], str]
) -> CheckResult:
    """Drive calls through a real ToolGate until each rate-limited rule refuses (frozen clock)."""
    from agent_os import condition_facts

    name = "rate limits refuse calls past their limit"
    limits = dict(policy_set.limits)
    if not limits:
        return CheckResult(name=name, status="fail", detail="no rule has a rate limit (`limit:`)")
    from agent_os import RateLimiter, ToolGate
    from agt_core import parse_limit

    gate = ToolGate(policy=policy_set, audit=False, rate_limiter=RateLimiter(clock=lambda: 0.0))
    evidence: list[dict[str, Any]] = []
    refused = 0
    for (policy, rule), limit in sorted(limits.items()):
        count, _ = parse_limit(limit)
        condition = conditions.get((policy, rule))
        facts = condition_facts(condition).equalities if condition else None
        types = sorted(t for t in facts.get("action.type", ()) if isinstance(t, str)) if facts else []
        tool = types[0] if types else None
        if tool is None or count > 10_000:
            why = "its condition names no single action.type" if tool is None else "limit above 10,000 calls"
            evidence.append({"policy": policy, "rule": rule, "limit": limit, "exercised": False, "why": why})
            continue
        first = gate.check(tool, {}, agent_id=config.agent_id)
        if rule not in {m.rule for m in first.decision.matched if m.policy == policy}:
            # The request built from the condition does not reach the rule (it reads more than
            # action.type, e.g. agent.id): its limit cannot be exercised, which proves nothing.
            why = f"a `{tool}` call by agent `{config.agent_id}` does not match the rule; set agent_id"
            evidence.append({"policy": policy, "rule": rule, "limit": limit, "exercised": False, "why": why})
            continue
        last = first
        for _ in range(count):
            last = gate.check(tool, {}, agent_id=config.agent_id)
        ok = last.decision.rate_limited and not last.allowed
        refused += ok
        evidence.append(
            {
                "policy": policy,
                "rule": rule,
                "limit": limit,
                "exercised": True,
                "calls": count + 1,
                "last_decision": last.decision.summary(),
                "refused": ok,
            }
        )
    exercised = [e for e in evidence if e["exercised"]]
    if not exercised:
        return CheckResult(
            name=name,
            status="not-run",
            detail="no rate-limited rule could be exercised",
            evidence=tuple(evidence),
        )
    status: Any = "pass" if refused == len(exercised) else "fail"
    return CheckResult(
        name=name,
        status=status,
        detail=f"{refused} of {len(exercised)} exercised limit(s) refused the call past the limit",
        evidence=tuple(evidence),
    )


def _breaker_check(config: DeploymentConfig) -> CheckResult:
    name = "circuit breaker opens on a failing tool"
    if not installed("agent-sre"):
        return _not_run(name, missing_note("agent-sre"), "agent-sre")
    if config.circuit_breaker is None:
        return CheckResult(
            name=name,
            status="fail",
            detail="no `circuit_breaker:` in the deployment file: a failing tool is called again and again",
            requires="agent-sre",
        )
    from agent_sre import CircuitBreaker
    from agt_core import Decision, Enforcement

    settings = {k: v for k, v in config.circuit_breaker.items() if k not in ("shared", "clock", "wall_clock")}
    try:
        breaker = CircuitBreaker(**settings, clock=lambda: 0.0)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"circuit_breaker settings: {exc}") from None
    tools = settings.get("tools")
    tool = next(iter(tools)) if tools else "agt_probe_failing_tool"
    request = {
        "action": {"type": tool, "tool": tool},
        "args": {},
        "agent": {"id": config.agent_id},
        "context": {},
        "stage": "pre_tool",
    }
    allowed = Decision(effect="allow", allowed=True)
    failures = 0
    limit = 1000
    while failures < limit:
        refusal = breaker.check(request)
        if refusal is not None:
            return CheckResult(
                name=name,
                status="pass",
                detail=f"`{tool}` refused after {failures} consecutive failure(s): {refusal}",
                requires="agent-sre",
                evidence=({"tool": tool, "failures": failures, "refusal": refusal, "settings": settings},),
            )
        breaker.on_completion(
            Enforcement(True, allowed, None, None, request), None, RuntimeError("agt probe"), 0.0
        )
        failures += 1
    return CheckResult(
        name=name,
        status="fail",
        detail=f"`{tool}` still called after {limit} consecutive failures",
        requires="agent-sre",
        evidence=({"tool": tool, "failures": failures, "settings": settings},),
    )


def _kill_switch_check(config: DeploymentConfig) -> CheckResult:
    name = "kill switch configured and readable"
    if not installed("agent-sre"):
        return _not_run(name, missing_note("agent-sre"), "agent-sre")
    if config.kill_switch is None:
        return CheckResult(
            name=name,
            status="fail",
            detail="no `kill_switch:` in the deployment file: a rogue agent cannot be stopped",
            requires="agent-sre",
        )
    from pathlib import Path

    from agent_sre import KillSwitch, SQLiteSwitchStore, SREError

    if not Path(config.kill_switch).is_file():
        return CheckResult(
            name=name,
            status="fail",
            detail=f"kill switch store `{config.kill_switch}` does not exist",
            requires="agent-sre",
        )
    try:
        switch = KillSwitch(SQLiteSwitchStore(config.kill_switch, create=False), max_staleness_s=0)
        try:
            pulled = switch.pulled()
            probe = Probe("ASI10", "kill-switch", "", "search").request(config.agent_id)
            refusal = switch.check(probe)
        finally:
            switch.close()
    except SREError as exc:
        return CheckResult(
            name=name, status="fail", detail=f"kill switch store unreadable: {exc}", requires="agent-sre"
        )
    state = f"{len(pulled)} switch(es) pulled" + (f"; a call would be refused: {refusal}" if refusal else "")
    return CheckResult(
        name=name,
        status="pass",
        detail=f"store `{config.kill_switch}` readable; {state}",
        requires="agent-sre",
        evidence=({"store": config.kill_switch, "pulled": len(pulled), "refusal": refusal},),
    )


def _audit_check(config: DeploymentConfig) -> CheckResult:
    name = "audit trail verifies"
    if config.audit is None:
        return CheckResult(name=name, status="fail", detail="no `audit:` trail in the deployment file")
    try:
        verdict = verify_audit(
            config.audit,
            head=config.audit_head,
            allow_unpinned=config.audit_head is None,
            checkpoint=config.checkpoint,
            public_key=config.public_key,
        )
    except UsageError as exc:
        if not installed("agent-hypervisor") and "agent-hypervisor" in str(exc):
            return _not_run(name, missing_note("agent-hypervisor"), "agent-hypervisor")
        raise
    evidence = (
        {
            "trail": config.audit,
            "ok": verdict.ok,
            "records": verdict.records,
            "head": verdict.head,
            "pinned": verdict.pinned,
            "first_bad_index": verdict.first_bad_index,
        },
    )
    if not verdict.ok:
        return CheckResult(name=name, status="fail", detail=verdict.summary, evidence=evidence)
    if not verdict.pinned:
        return CheckResult(
            name=name,
            status="fail",
            evidence=evidence,
            detail=f"{verdict.summary}; pin it (`audit_head:` or `checkpoint:` + `public_key:`) so a cut or "
            "rebuilt trail is caught",
        )
    return CheckResult(name=name, status="pass", detail=verdict.summary, evidence=evidence)


def _signed_requests_check(config: DeploymentConfig) -> CheckResult:
    name = "audited requests carry valid agent signatures"
    if not installed("agent-mesh"):
        return _not_run(name, missing_note("agent-mesh"), "agent-mesh")
    if config.audit is None:
        return _not_run(
            name, "no `audit:` trail in the deployment file to read signed requests from", "agent-mesh"
        )
    from agentmesh import SignatureError, verify_request_signature

    requests = _audited_requests(config.audit)
    if requests is None:
        return _not_run(name, missing_note("agent-hypervisor"), "agent-hypervisor")
    if not requests:
        return _not_run(name, f"the audit trail `{config.audit}` holds no requests", "agent-mesh")
    # Records no policy set decided are the controls' own (kill switch pulls, ring changes, saga
    # and session events): no agent asked for them, so no agent signed them. Every governed call,
    # refusals by guards included, carries the policy set's hash and must be signed.
    governed = [(seq, request) for seq, request, decided in requests if decided]
    if not governed:
        return _not_run(name, f"the audit trail `{config.audit}` holds no governed calls", "agent-mesh")
    bad = []
    for seq, request in governed:
        try:
            verify_request_signature(request)
        except SignatureError as exc:
            bad.append({"seq": seq, "agent": request.get("agent", {}).get("id"), "reason": str(exc)})
    # The verifier must also refuse a request altered after signing: flip one argument of a signed one.
    tamper: dict[str, Any] | None = None
    signed = [r for _, r in governed if isinstance(r.get("agent"), dict) and "signature" in r["agent"]]
    if signed:
        altered = {**signed[0], "args": {**signed[0].get("args", {}), "agt_probe_injected": True}}
        try:
            verify_request_signature(altered)
            tamper = {"altered_request_accepted": True}
        except SignatureError:
            tamper = {"altered_request_accepted": False}
    evidence = tuple(bad[:20]) + ((tamper,) if tamper else ())
    if bad or (tamper and tamper["altered_request_accepted"]):
        return CheckResult(
            name=name,
            status="fail",
            requires="agent-mesh",
            evidence=evidence,
            detail=f"{len(bad)} of {len(governed)} governed call(s) unsigned or with a bad signature",
        )
    return CheckResult(
        name=name,
        status="pass",
        requires="agent-mesh",
        evidence=evidence,
        detail=f"all {len(governed)} governed call(s) signed by their agent's DID"
        + (
            f" ({len(requests) - len(governed)} control record(s) need none)"
            if len(governed) < len(requests)
            else ""
        )
        + "; an altered copy is refused",
    )


def _audited_requests(path: str) -> list[tuple[int, dict[str, Any], bool]] | None:
    """(seq, request, whether a policy set decided it) for every record of the trail."""
    import json
    from pathlib import Path

    from agent_compliance._audit import is_store

    if is_store(path):
        if not installed("agent-hypervisor"):
            return None
        from agent_hypervisor import SqliteAuditLog

        with SqliteAuditLog(path.removeprefix("sqlite:///"), create=False) as log:
            return [
                (record.seq, dict(record.request), record.decision.policy_set_hash is not None)
                for record in log
            ]
    found = []
    try:
        with Path(path).open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    fields = json.loads(line)
                    decided = fields["decision"].get("policy_set_hash") is not None
                    found.append((int(fields["seq"]), dict(fields["request"]), decided))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot read audit trail `{path}`: {exc}") from None
    return found


def _channel_check() -> CheckResult:
    """Seal frames on a fresh agent-mesh session; a replayed and a bit-flipped frame must be refused."""
    name = "agent-mesh channel refuses replayed and altered messages"
    if not installed("agent-mesh"):
        return _not_run(name, missing_note("agent-mesh"), "agent-mesh", "library")
    from agentmesh import AgentIdentity, ChannelError, Handshake

    alice, bob = AgentIdentity.create("agt-probe-sender"), AgentIdentity.create("agt-probe-receiver")
    hello, alice_pending = Handshake(alice).initiate(expected_peer=bob.did)
    response, bob_pending = Handshake(bob).respond(hello)
    finish, alice_session = alice_pending.complete(response)
    bob_session = bob_pending.complete(finish)
    outcomes: dict[str, str] = {}
    frame = alice_session.channel.seal(b"agt probe: pay 10 EUR")
    bob_session.channel.open(frame)
    fresh = alice_session.channel.seal(b"agt probe: pay 5 EUR")
    attacks = {"replayed": frame, "altered": fresh[:-1] + bytes([fresh[-1] ^ 1])}
    for attack, data in attacks.items():
        try:
            bob_session.channel.open(data)
            outcomes[attack] = "accepted"
        except ChannelError as exc:
            outcomes[attack] = f"refused ({exc.reason})"
    accepted = [attack for attack, outcome in outcomes.items() if outcome == "accepted"]
    evidence = ({"session": "fresh identities (not the deployment's keys)", **outcomes},)
    if accepted:
        return CheckResult(
            name=name,
            status="fail",
            requires="agent-mesh",
            kind="library",
            evidence=evidence,
            detail=f"the installed agent-mesh accepted a {' and an '.join(accepted)} frame",
        )
    return CheckResult(
        name=name,
        status="pass",
        requires="agent-mesh",
        kind="library",
        evidence=evidence,
        detail="the installed agent-mesh refused a replayed and an altered frame on a fresh session "
        "(whether your agents talk over agent-mesh channels is not checked)",
    )


def _delegation_check() -> CheckResult:
    """A delegate re-signs its credential with wider capabilities; the verifier must refuse the chain."""
    name = "agent-mesh refuses a widened delegation"
    if not installed("agent-mesh"):
        return _not_run(name, missing_note("agent-mesh"), "agent-mesh", "library")
    from agentmesh import AgentIdentity, Delegation, DelegationError, DelegationVerifier

    root, planner, helper = (
        AgentIdentity.create(n) for n in ("agt-probe-root", "agt-probe-planner", "agt-probe-helper")
    )
    grant = Delegation.issue(root, planner, ["email:send"], ttl_s=600, max_depth=1)
    narrow = Delegation.issue(planner, helper, ["email:send"], parent=grant)
    wider = narrow.signed_payload() | {"capabilities": ["*"]}
    wider["signature"] = planner.sign(wider)
    verifier = DelegationVerifier([root.did])
    verifier.verify([grant, narrow], subject=helper.did)
    try:
        verifier.verify([grant, wider], subject=helper.did)
    except DelegationError as exc:
        return CheckResult(
            name=name,
            status="pass",
            requires="agent-mesh",
            kind="library",
            evidence=(
                {
                    "attack": "re-signed sub-delegation widened to `*`",
                    "refused": exc.reason,
                    "link": exc.link,
                },
            ),
            detail=f"the widened chain was refused at link {exc.link} ({exc.reason}) on fresh identities",
        )
    return CheckResult(
        name=name,
        status="fail",
        requires="agent-mesh",
        kind="library",
        detail="the installed agent-mesh accepted a delegation widened to `*`",
        evidence=({"attack": "re-signed sub-delegation widened to `*`", "refused": None},),
    )
