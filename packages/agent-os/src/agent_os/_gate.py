"""ToolGate: the governed-call pipeline for tools that are not plain Python functions.

Framework adapters (LangChain middleware, ADK plugins, MCP gateways, ...) see a tool call as a
name and a mapping of arguments, decide whether it may run, run it through the framework, and
report how it ended. `ToolGate` gives them exactly that, with every option `govern()` takes::

    gate = ToolGate(policy="policy.yaml", agent_id="researcher")
    outcome = gate.check("delete_db", {"name": "prod"}, context={"framework": {"run_id": "r1"}})
    if not outcome.allowed:
        return gate.refusal_message(outcome)     # what the model is told
    result = run_the_tool(**outcome.request["args"])   # the judged arguments
    after = gate.complete(outcome, result=result)      # post_tool rules, observers
    if not after.allowed:
        return gate.refusal_message(after)

`check` never raises for a refusal; it raises `AuditError` when the decision could not be
recorded and `ApprovalError` when the approval handler failed, and the caller must then not run
the tool. Arguments from a model are JSON already; pass them as they are, and run the tool with
``outcome.request["args"]``, the values that were judged.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Unpack

from agent_os._request_builder import normalize_action, to_json_data
from agt_core import Enforcement, RequestError

if TYPE_CHECKING:
    from agent_os._kernel import Kernel
    from agent_os._wiring import GovernOptions
    from agt_core import AuditSink, PolicySet

__all__ = ["ToolGate"]


class ToolGate:
    """Decide, audit and observe tool calls given by name and arguments (see the module docstring).

    Args:
        **options: Everything `govern()` accepts (`GovernOptions`); ``policy`` is required.
            ``tool_name`` and ``on_deny`` do not apply.
    """

    def __init__(self, **options: Unpack[GovernOptions]) -> None:
        from agent_os._wiring import (
            GovernOptions,
            agent_data,
            build_kernel,
            expand_agent,
            request_limits,
            resolve_policy,
            with_manifest,
        )

        unknown = set(options) - set(GovernOptions.__annotations__)
        if unknown:
            raise TypeError(f"ToolGate() got unexpected option(s): {', '.join(sorted(unknown))}")
        if "policy" not in options:
            raise TypeError("ToolGate() needs policy=: a policy file path, YAML text, a dict or a PolicySet")
        options = expand_agent(options)  # type: ignore[assignment]
        options = with_manifest(options, None)  # type: ignore[assignment]
        self.policy_set: PolicySet = resolve_policy(options)
        self.kernel: Kernel = build_kernel(options, self.policy_set)
        self._limits = request_limits(options)
        self._agent = to_json_data(agent_data(options), self._limits, where="agent")
        self._context = to_json_data(options.get("context") or {}, self._limits, where="context")
        self._post_tool = "post_tool" in self.policy_set.stages

    @property
    def audit_log(self) -> AuditSink | None:
        """Where this gate's decisions are recorded."""
        return self.kernel.audit

    # -- deciding ------------------------------------------------------------------------------

    def request(
        self,
        tool: str,
        args: Mapping[str, Any],
        *,
        action: str | None = None,
        agent_id: str | None = None,
        agent: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The pre_tool request for one call (raises `RequestError` when it cannot be built)."""
        if type(tool) is not str or not tool:
            raise RequestError("the tool name must be a non-empty string")
        if not isinstance(args, Mapping):
            raise RequestError(f"tool arguments must be a mapping, not `{type(args).__name__}`")
        judged_args = to_json_data(args, self._limits, where="args")
        agent_data = self._agent
        if agent or agent_id is not None:
            extra = to_json_data(dict(agent or {}), self._limits, where="agent")
            agent_data = {**agent_data, **extra}
            if agent_id is not None:
                agent_data["id"] = agent_id
        if type(agent_data.get("id")) is not str or not agent_data["id"]:
            raise RequestError("agent id must be a non-empty string")
        context_data = self._context
        if context:
            context_data = {**context_data, **to_json_data(dict(context), self._limits, where="context")}
        given = action if action is not None else judged_args.get("action")
        if given is None:
            action_type = tool
        elif type(given) is str:
            action_type = normalize_action(given)
        elif isinstance(given, dict) and type(given.get("type")) is str:
            action_type = normalize_action(given["type"])
        else:
            raise RequestError(
                f"argument `action` is a `{type(given).__name__}`, which cannot name an action"
            )
        return {
            "action": {"type": action_type, "tool": tool},
            "args": judged_args,
            "agent": agent_data,
            "context": context_data,
            "stage": "pre_tool",
        }

    def check(
        self,
        tool: str,
        args: Mapping[str, Any],
        *,
        action: str | None = None,
        agent_id: str | None = None,
        agent: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Enforcement:
        """Run the pipeline for one tool call; ``outcome.allowed`` says whether it may run."""
        request = self._request_or_refusal(tool, args, action, agent_id, agent, context)
        return request if isinstance(request, Enforcement) else self.kernel.enforce(request)

    async def check_async(
        self,
        tool: str,
        args: Mapping[str, Any],
        *,
        action: str | None = None,
        agent_id: str | None = None,
        agent: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Enforcement:
        """`check` for async callers: an async approval handler is awaited, a sync one runs in a thread."""
        request = self._request_or_refusal(tool, args, action, agent_id, agent, context)
        return request if isinstance(request, Enforcement) else await self.kernel.enforce_async(request)

    def _request_or_refusal(
        self,
        tool: str,
        args: Mapping[str, Any],
        action: str | None,
        agent_id: str | None,
        agent: Mapping[str, Any] | None,
        context: Mapping[str, Any] | None,
    ) -> dict[str, Any] | Enforcement:
        """The request for one call, or its audited refusal when it cannot be built."""
        try:
            return self.request(tool, args, action=action, agent_id=agent_id, agent=agent, context=context)
        except RequestError as exc:
            return self.kernel.refuse(
                self._known_part(tool, agent_id),
                f"request could not be built: {exc.message}",
                by="kernel:request",
            )

    def _known_part(self, tool: Any, agent_id: str | None) -> dict[str, Any]:
        name = tool if type(tool) is str and tool else "<invalid tool name>"
        agent = dict(self._agent)
        if type(agent_id) is str and agent_id:
            agent["id"] = agent_id
        return {
            "action": {"type": name, "tool": name},
            "args": {},
            "agent": agent,
            "context": self._context,
            "stage": "pre_tool",
        }

    # -- after the tool ran --------------------------------------------------------------------

    def complete(
        self,
        outcome: Enforcement,
        *,
        result: Any = None,
        error: BaseException | None = None,
        duration_s: float | None = None,
        started: float | None = None,
    ) -> Enforcement:
        """Report how an allowed call ended; apply post_tool rules to its result.

        Args:
            outcome: What `check` returned.
            result: The tool's result (when it returned).
            error: The exception it raised (when it failed).
            duration_s: How long it ran.
            started: Instead of `duration_s`, the `time.perf_counter()` value taken when it started.

        Returns:
            The post_tool enforcement when the policy has post_tool rules and the tool returned
            (``allowed=False`` means withhold the result), else `outcome` itself.
        """
        if duration_s is None:
            duration_s = time.perf_counter() - started if started is not None else 0.0
        self.kernel.complete(outcome, result, error, duration_s)
        if not self._post_tool or error is not None or not outcome.allowed:
            return outcome
        request = dict(outcome.request)
        try:
            post = {
                **request,
                "stage": "post_tool",
                "result": to_json_data(result, self._limits, where="result"),
            }
        except RequestError as exc:
            return self.kernel.refuse(
                {**request, "stage": "post_tool", "result": None},
                f"result could not be checked: {exc.message}",
                by="kernel:request",
            )
        return self.kernel.enforce(post)

    @staticmethod
    def refusal_message(outcome: Enforcement) -> str:
        """One line for the model: which tool was refused, by what, and why."""
        decision = outcome.decision
        tool = (
            outcome.request.get("action", {}).get("tool", "?")
            if isinstance(outcome.request, Mapping)
            else "?"
        )
        if decision.rule is not None:
            who = f"rule `{decision.rule}` of policy `{decision.policy}`"
        elif decision.refused_by is not None:
            who = decision.refused_by
        else:
            who = f"policy `{decision.policy}` (default action)"
        text = f"tool call `{tool}` was refused by {who}"
        if decision.message:
            text += f": {decision.message}"
        approval = outcome.approval
        if approval is not None and approval.pending:
            text += f" (approval pending: {approval.reason})" if approval.reason else " (approval pending)"
        elif approval is not None and not approval.approved:
            text += f" (approval refused: {approval.reason})" if approval.reason else " (approval refused)"
        return text

    def __repr__(self) -> str:
        return f"ToolGate({self.kernel!r})"
