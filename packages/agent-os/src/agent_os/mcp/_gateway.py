"""McpGateway: one governance point for MCP traffic.

The server middleware, the client transport and the proxy all decide through it. It owns a `ToolGate` (the kernel pipeline: policy, approvals, audit, observers), the pins of
tool definitions, and the definitions it has reviewed. Everything that decides goes through
`ToolGate` or `Kernel.refuse`, so every refusal is audited like any other decision.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Unpack

from agent_os import GovernOptions, ToolGate
from agent_os.mcp._pins import ToolPins, definition_hash
from agent_os.mcp._results import ResultMode, ResultReview, ResultScanner
from agent_os.mcp._scan import Finding, resembles, scan_tool
from agt_core import Decision, Enforcement, GovernanceError

__all__ = ["META_KEY", "REFUSED_ERROR_CODE", "Governed", "McpGateway", "ToolReview"]

logger = logging.getLogger("agent_os.mcp")

#: JSON-RPC error code for a refused ``resources/read`` or ``prompts/get`` (the
#: implementation-defined band -32000..-32019; the SDK uses -32000 and -32001).
REFUSED_ERROR_CODE = -32010
#: `_meta` key under which a refusal carries its decision (rule, policy, refused_by, audit hash).
META_KEY = "agt.governance/decision"


@dataclass(frozen=True, slots=True)
class Governed:
    """The gateway's answer for one MCP request.

    Attributes:
        allowed: Whether the request may go on.
        message: The refusal text for the client (empty when allowed).
        args: The judged arguments: what the request must carry if it goes on.
        outcome: The kernel's enforcement, or ``None`` when the kernel itself failed.
    """

    allowed: bool
    message: str
    args: dict[str, Any]
    outcome: Enforcement | None

    def meta(self) -> dict[str, Any]:
        """The decision as `_meta` data for the refused result or error."""
        if self.outcome is None:
            return {META_KEY: {"effect": "deny", "refused_by": "mcp:gateway"}}
        decision = self.outcome.decision
        return {
            META_KEY: {
                "effect": decision.effect,
                "rule": decision.rule,
                "policy": decision.policy,
                "refused_by": decision.refused_by,
                "audit_hash": self.outcome.audit_hash,
            }
        }


@dataclass(slots=True)
class ToolReview:
    """What the gateway made of one ``tools/list`` result.

    Attributes:
        kept: The definitions passed on to the client, unchanged.
        withheld: Tool name -> why it was withheld (poisoned, or changed since it was pinned).
        findings: Tool name -> every finding (flags included).
    """

    kept: list[Any] = field(default_factory=list)
    withheld: dict[str, str] = field(default_factory=dict)
    findings: dict[str, tuple[Finding, ...]] = field(default_factory=dict)


class McpGateway:
    """Govern MCP tool calls, resource reads and prompt fetches, and vet tool definitions.

    Args:
        gate: The `ToolGate` to decide with; or give ``policy=`` and any other `govern()` option.
        server_name: The governed server's name in ``context.mcp.server`` (the server side uses
            the server's own name when not given; the client side, what the server declares).
        transport: ``context.mcp.transport`` (``stdio``, ``streamable-http``, ...); inferred when
            not given.
        pins: Where tool definitions are pinned (`ToolPins`); a fresh in-memory one by default.
        scan: Whether tool definitions are scanned for poisoning (on by default).
        known_servers: Trusted server names: a different server whose name resembles one of
            them (or of a server already pinned) is flagged as a typosquat.
        results: What to do with a ``tools/call`` or ``resources/read`` result that holds
            instructions aimed at the model: ``refuse`` (default: withhold it), ``replace``
            (swap each offending text for a notice) or ``off``. Secrets in results are redacted
            when the policy's ``redaction:`` block (or ``redaction=``) says ``results: true``.
        detector: The `agent_os.detection.Detector` results are scanned with (default: rules and
            normalisation, threshold 0.5).
        manifests: Signed manifests (`agent_os.manifest`) tools must verify against: a
            ``tools/call`` runs only when a manifest named after the tool lists it among its
            capabilities, or one named after the server does; see `McpManifestGuard`.
        trusted_keys: Public keys the ``manifests`` must be signed by.
        **options: `govern()` options for the `ToolGate` when ``gate`` is not given.
    """

    def __init__(
        self,
        gate: ToolGate | None = None,
        *,
        server_name: str | None = None,
        transport: str | None = None,
        pins: ToolPins | None = None,
        scan: bool = True,
        known_servers: Sequence[str] = (),
        results: ResultMode = "refuse",
        detector: Any = None,
        manifests: Sequence[Any] | None = None,
        **options: Unpack[GovernOptions],
    ) -> None:
        # trusted_keys= is a govern() option (for manifest=); here it goes with manifests=.
        trusted_keys = (
            options.pop("trusted_keys", None) if manifests is not None else options.get("trusted_keys")
        )
        if manifests is not None:
            from agent_os.mcp._manifests import McpManifestGuard

            if gate is not None:
                raise TypeError(
                    "McpGateway(manifests=...) builds its own gate: pass govern() options, not gate="
                )
            guard = McpManifestGuard(manifests, trusted_keys)
            options["guards"] = (guard, *options.get("guards", ()))
        elif trusted_keys is not None and "manifest" not in options:
            raise TypeError("trusted_keys= applies only with manifests=")
        if gate is None:
            gate = ToolGate(**options)
        elif options:
            raise TypeError("McpGateway() takes either gate= or govern() options, not both")
        self.gate = gate
        self.server_name = server_name
        self.transport = transport
        self.pins = pins if pins is not None else ToolPins()
        self.scan = scan
        self.known_servers = tuple(known_servers)
        redactor = gate.kernel.redactor
        self.results = ResultScanner(
            results, detector, redactor=redactor if redactor is not None and redactor.results else None
        )
        self._tools: dict[str, dict[str, Mapping[str, Any]]] = {}
        self._withheld: dict[tuple[str, str], str] = {}
        self._findings: dict[tuple[str, str], tuple[Finding, ...]] = {}
        self._reported: set[tuple[str, str, str]] = set()

    # -- deciding one request ------------------------------------------------------------------

    async def check(
        self,
        tool: Any,
        args: Any,
        *,
        mcp: Mapping[str, Any],
        agent_id: str | None = None,
        agent: Mapping[str, Any] | None = None,
    ) -> Governed:
        """Decide one call: `tool` is the action's name, `args` its arguments (as received).

        Never raises: a kernel that cannot decide or record refuses (fail closed).
        """
        server = mcp.get("server")
        context: dict[str, Any] = {"mcp": dict(mcp)}
        if mcp.get("method") == "tools/call":
            # Always present for tool calls, so `'typosquat' in context.mcp.flags` never errors.
            key = (server, tool) if isinstance(server, str) and isinstance(tool, str) else None
            findings = self._findings.get(key, ()) if key is not None else ()
            context["mcp"]["flags"] = sorted({f.kind for f in findings})
            context["mcp"]["findings"] = [str(f) for f in findings]
            withheld = self._withheld.get(key) if key is not None else None
            if withheld is not None:
                return self._refuse(tool, args, context, agent_id, agent, withheld, by="mcp:tool-review")
        try:
            if isinstance(args, Mapping):
                outcome = await self.gate.check_async(
                    tool, args, agent_id=agent_id, agent=agent, context=context
                )
            else:
                outcome = self._bad_args(tool, args, context, agent_id, agent)
        except Exception as exc:  # the approval or the audit failed: nothing runs
            logger.warning("mcp gateway refused %r: %s", tool, exc)
            return Governed(
                False, f"call `{tool}` was refused: governance failed ({type(exc).__name__}: {exc})", {}, None
            )
        if outcome.allowed:
            return Governed(True, "", dict(outcome.request.get("args", {})), outcome)
        return Governed(False, self.gate.refusal_message(outcome), {}, outcome)

    def _bad_args(
        self,
        tool: Any,
        args: Any,
        context: Mapping[str, Any],
        agent_id: str | None,
        agent: Mapping[str, Any] | None,
    ) -> Enforcement:
        name = tool if isinstance(tool, str) and tool else "<invalid tool name>"
        request = self._refusal_request(name, context, agent_id, agent)
        return self.gate.kernel.refuse(
            request, f"arguments must be an object, not `{type(args).__name__}`", by="kernel:request"
        )

    def _refusal_request(
        self, tool: str, context: Mapping[str, Any], agent_id: str | None, agent: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """The request to audit a refusal under: the call's tool, agent and context, no arguments.

        The arguments are what could not be judged (or are withheld), so the record names who
        asked for which tool and why it was refused, never a guess at the arguments.
        """
        try:
            request = self.gate.request(tool, {}, agent_id=agent_id, agent=agent, context=context)
        except GovernanceError:
            request = self.gate.request("<invalid tool name>", {})
        return request

    def _refuse(
        self,
        tool: str,
        args: Any,
        context: Mapping[str, Any],
        agent_id: str | None,
        agent: Mapping[str, Any] | None,
        reason: str,
        *,
        by: str,
    ) -> Governed:
        try:
            outcome = self.gate.kernel.refuse(
                self._refusal_request(tool, context, agent_id, agent), reason, by=by
            )
        except Exception as exc:
            return Governed(
                False, f"call `{tool}` was refused: {reason} (and could not be audited: {exc})", {}, None
            )
        return Governed(False, self.gate.refusal_message(outcome), {}, outcome)

    # -- results -------------------------------------------------------------------------------

    def review_result(self, outcome: Enforcement, method: str, result: Mapping[str, Any]) -> ResultReview:
        """Scan an allowed request's result before the model sees it; audit what was found.

        ``review.result`` is what to pass on, or None to withhold it. Never raises: a finding
        that cannot be audited withholds the result (fail closed).
        """
        try:
            review = self.results.review(method, result)
        except Exception as exc:  # the scan itself failed: nothing unchecked goes on
            logger.exception("mcp gateway could not scan a %r result", method)
            return ResultReview(None, f"the result could not be scanned ({type(exc).__name__}: {exc})")
        if not review.findings:
            return review
        context = dict(outcome.request.get("context", {}))
        context["mcp"] = {**context.get("mcp", {}), "result_scan": review.summary()}
        request = {**outcome.request, "stage": "post_tool", "result": None, "context": context}
        action = "withheld" if review.result is None else "passed on with the offending text replaced"
        try:
            review.outcome = self.gate.kernel.refuse(
                request, f"{review.message}; {action}", by="mcp:result-scan"
            )
        except Exception as exc:
            logger.warning("mcp gateway withheld a result it could not audit: %s", exc)
            review.result = None
            review.message += f" (and the finding could not be audited: {exc})"
        return review

    # -- tool definitions ----------------------------------------------------------------------

    def review_tools(self, server: str, tools: Sequence[Any]) -> ToolReview:
        """Scan and pin one server's listed tools; decide which the client may see.

        A tool is withheld when its definition is poisoned (a ``block`` finding), cannot be
        hashed, or differs from its pin; each first withholding of a definition is audited as a
        refusal (``refused_by="mcp:tool-review"``). Calls to a withheld tool are refused.
        """
        review = ToolReview()
        listed = {t["name"]: t for t in tools if isinstance(t, Mapping) and isinstance(t.get("name"), str)}
        others = {s: tuple(names) for s, names in self._tools.items() if s != server}
        findings_server: list[Finding] = []
        # Trusted: the names given, and every server whose tools were pinned before.
        for known in dict.fromkeys((*self.known_servers, *self.pins.servers())):
            if known != server and resembles(server, known):
                findings_server.append(
                    Finding(
                        "typosquat", "flag", "server", f"server `{server}` resembles trusted server `{known}`"
                    )
                )
        for tool in tools:
            if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str) or not tool["name"]:
                review.withheld[repr(tool)[:40]] = "a tool definition without a name"
                continue
            name: str = tool["name"]
            findings = tuple(findings_server)
            if self.scan:
                findings += scan_tool(tool, same_server=listed, other_servers=others)
            blocking = [f for f in findings if f.severity == "block"]
            reason: str | None = None
            digest = ""
            try:
                digest = definition_hash(tool)
            except GovernanceError as exc:
                reason = f"the definition of tool `{name}` cannot be hashed: {exc}"
            if reason is None and blocking:
                reason = f"the definition of tool `{name}` looks poisoned: " + "; ".join(map(str, blocking))
            if reason is None:
                status = self.pins.check(server, name, digest)
                if status == "changed":
                    reason = (
                        f"the definition of tool `{name}` changed since it was approved "
                        f"(pinned {self.pins.pinned(server, name)}, now {digest}); re-approve it to use it"
                    )
            review.findings[name] = findings
            self._findings[(server, name)] = tuple(f for f in findings if f.severity == "flag")
            if reason is None:
                self._withheld.pop((server, name), None)
                review.kept.append(tool)
                continue
            self._withheld[(server, name)] = reason
            review.withheld[name] = reason
            if (server, name, digest) not in self._reported:
                self._reported.add((server, name, digest))
                context = {"mcp": {"server": server, "method": "tools/list", "definition_hash": digest}}
                try:
                    self.gate.kernel.refuse(
                        self._refusal_request(name, context, None, None), reason, by="mcp:tool-review"
                    )
                except Exception:  # withheld all the same; the next listing tries to record it again
                    self._reported.discard((server, name, digest))
                    logger.exception("mcp gateway could not audit withholding tool %r", name)
        self._tools[server] = {name: tool for name, tool in listed.items() if name not in review.withheld}
        return review

    def withheld(self, server: str, tool: str) -> str | None:
        """Why a tool is withheld, or ``None`` when it is not."""
        return self._withheld.get((server, tool))

    def approve_tool(self, server: str, tool: str, *, approver: str, reason: str = "") -> str:
        """Re-approve the changed definition of a tool (audited); returns the newly pinned hash.

        The approval is written to the gate's audit sink before the pin moves, so an approval
        that cannot be recorded does not take effect. The next listing shows the tool again.

        Raises:
            KeyError: No changed definition of that tool is waiting.
            AuditError: The approval could not be recorded.
        """
        pending = self.pins.pending(server, tool)
        if pending is None:
            raise KeyError(f"no changed definition of tool `{tool}` of server `{server}` is waiting")
        request = {
            "action": {"type": "mcp.approve_tool", "tool": tool},
            "args": {
                "server": server,
                "tool": tool,
                "hash": pending,
                "previous": self.pins.pinned(server, tool),
            },
            "agent": {"id": approver},
            "context": {"mcp": {"server": server, "reason": reason}},
            "stage": "pre_tool",
        }
        decision = Decision(
            effect="allow",
            allowed=True,
            message=f"definition {pending} of tool `{tool}` re-approved by `{approver}`"
            + (f": {reason}" if reason else ""),
            policy_set_hash=self.gate.policy_set.hash,
            refused_by=None,
        )
        sink = self.gate.audit_log
        if sink is not None:
            redactor = self.gate.kernel.redactor
            if redactor is not None:  # written outside the kernel: redacted as the kernel would
                request, decision, _ = redactor.for_audit(request, decision, None)
            sink.append(request, decision)
        self.pins.approve(server, tool, pending)
        self._withheld.pop((server, tool), None)
        return pending

    def __repr__(self) -> str:
        return f"McpGateway(server_name={self.server_name!r}, gate={self.gate!r})"
