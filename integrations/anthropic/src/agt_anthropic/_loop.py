"""Governance for the Anthropic Python SDK 2.x: your tool loop's tool step, and the beta tool runner's tools.

The Messages API executes no client tools: the model answers with ``tool_use`` blocks and the
application runs them. That application step is the interception point, so the adapter *is* that
step: `ToolGovernance.run_tool_uses` takes a message's ``tool_use`` blocks, decides each on exactly
the input the function will receive, runs only the allowed ones and returns ``tool_result``
blocks (the SDK's `ToolResultBlockParam`), a refusal as an ``is_error`` result the model reads.

The SDK's beta tool runner (``client.beta.messages.tool_runner``) runs tools itself and has no
pre-tool hook; its seam is the runnable tool. `ToolGovernance.beta_tools` turns functions or
``@beta_tool`` tools into governed `BetaFunctionTool` / `BetaAsyncFunctionTool` instances whose
``call`` decides first and raises the SDK's `ToolError` for a refusal, which the runner sends as
an ``is_error`` tool result.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from anthropic.lib.tools import BetaAsyncFunctionTool, BetaFunctionTool, ToolError
from anthropic.types import Message, ToolResultBlockParam
from anthropic.types.beta import BetaMessage

from agent_os import ToolGate
from agt_integrations import OnRefusal, ToolGovernor, Verdict

__all__ = ["ToolGovernance"]


class ToolGovernance:
    """Runs the model's tool uses for your loop (or the beta tool runner), each checked against policy first.

    Usage::

        governance = ToolGovernance(policy="policy.yaml", tools=[read_table, delete_db])
        messages.append({"role": "user", "content": governance.run_tool_uses(message)})

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        tools: The functions ``run_tool_uses`` may call: a mapping from tool name to function,
            or functions (named by ``__name__``). Sync or async. Not needed for `beta_tools`.
        on_refusal: ``"refuse"`` answers a refused call with an ``is_error`` result;
            ``"raise"`` makes ``run_tool_uses`` raise `GovernanceDenied` (or the gate's own error)
            before any call of the batch runs. (The beta tool runner turns every exception of a
            tool into an ``is_error`` result, so governed runner tools always refuse.)
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    def __init__(
        self,
        policy: Any = None,
        *,
        tools: Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any]] = (),
        on_refusal: OnRefusal = "refuse",
        gate: ToolGate | None = None,
        **gate_options: Any,
    ) -> None:
        self.governor = ToolGovernor(
            policy,
            framework="anthropic",
            framework_version=importlib.metadata.version("anthropic"),
            on_refusal=on_refusal,
            gate=gate,
            **gate_options,
        )
        self.tools: dict[str, Callable[..., Any]] = (
            dict(tools) if isinstance(tools, Mapping) else {fn.__name__: fn for fn in tools}
        )

    @property
    def gate(self) -> ToolGate:
        """The `agent_os.ToolGate` deciding the calls."""
        return self.governor.gate

    # -- your own loop ---------------------------------------------------------------------------

    def run_tool_uses(
        self, message: Message | BetaMessage | Iterable[Any], **context: Any
    ) -> list[ToolResultBlockParam]:
        """Govern and run a message's ``tool_use`` blocks; one ``tool_result`` block per call, in order.

        Args:
            message: The assistant `Message` / `BetaMessage` (its ``content``) or its blocks; blocks
                that are not ``tool_use`` (text, thinking, server tool uses) are skipped.
            **context: Recorded under ``context.framework`` (``agent``, ``thread_id``, ...).
        """
        uses = _tool_uses(message)
        verdicts = [self.governor.check(u.name, u.input, **_fields(u, context)) for u in uses]
        self._raise_if_refused(verdicts)
        return [self._run(use, verdict) for use, verdict in zip(uses, verdicts, strict=True)]

    async def arun_tool_uses(
        self, message: Message | BetaMessage | Iterable[Any], **context: Any
    ) -> list[ToolResultBlockParam]:
        """`run_tool_uses` for async loops: async functions and approval handlers are awaited."""
        uses = _tool_uses(message)
        verdicts = [await self.governor.check_async(u.name, u.input, **_fields(u, context)) for u in uses]
        self._raise_if_refused(verdicts)
        return [await self._run_async(use, verdict) for use, verdict in zip(uses, verdicts, strict=True)]

    def _raise_if_refused(self, verdicts: list[Verdict]) -> None:
        if self.governor.raises:
            for verdict in verdicts:
                if not verdict.allowed:
                    raise verdict.exception()

    def _run(self, use: Any, verdict: Verdict) -> ToolResultBlockParam:
        if not verdict.allowed:
            return _error(use.id, verdict.message)
        function = self.tools.get(use.name)
        if function is None or inspect.iscoroutinefunction(function):
            why = "unknown tool" if function is None else "async tool: use arun_tool_uses"
            return self._finish(use.id, verdict, None, LookupError(f"{why} `{use.name}`"), 0.0)
        started = time.perf_counter()
        try:
            result = function(**use.input)
        except Exception as exc:
            return self._finish(use.id, verdict, None, exc, time.perf_counter() - started)
        return self._finish(use.id, verdict, result, None, time.perf_counter() - started)

    async def _run_async(self, use: Any, verdict: Verdict) -> ToolResultBlockParam:
        if not verdict.allowed:
            return _error(use.id, verdict.message)
        function = self.tools.get(use.name)
        if function is None:
            return self._finish(use.id, verdict, None, LookupError(f"unknown tool `{use.name}`"), 0.0)
        started = time.perf_counter()
        try:
            result = function(**use.input)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            return self._finish(use.id, verdict, None, exc, time.perf_counter() - started)
        return self._finish(use.id, verdict, result, None, time.perf_counter() - started)

    def _finish(
        self, use_id: str, verdict: Verdict, result: Any, error: BaseException | None, duration: float
    ) -> ToolResultBlockParam:
        if error is not None:
            self.governor.complete(verdict, error=error, duration_s=duration)
            return _error(use_id, f"tool call failed: {type(error).__name__}: {error}")
        post = self.governor.complete(verdict, result=result, duration_s=duration)
        if not post.allowed:
            if self.governor.raises:
                raise post.exception()
            return _error(use_id, post.message)
        return {"type": "tool_result", "tool_use_id": use_id, "content": _text(result)}

    # -- the beta tool runner --------------------------------------------------------------------

    def beta_tools(self, *tools: Any) -> list[BetaFunctionTool[Any] | BetaAsyncFunctionTool[Any]]:
        """Governed runner tools for ``client.beta.messages.tool_runner(tools=...)``.

        Args:
            *tools: Functions (sync or async) or ``@beta_tool`` / ``@beta_async_tool`` tools.

        Returns:
            The same tools, governed: each call is decided first; a refusal raises `ToolError`,
            which the runner sends to the model as an ``is_error`` tool result.
        """
        governed: list[BetaFunctionTool[Any] | BetaAsyncFunctionTool[Any]] = []
        for tool in tools:
            if isinstance(tool, BetaAsyncFunctionTool):
                governed.append(_adopt(_GovernedAsyncFunctionTool, tool, self.governor))
            elif isinstance(tool, BetaFunctionTool):
                governed.append(_adopt(_GovernedFunctionTool, tool, self.governor))
            elif inspect.iscoroutinefunction(tool):
                governed.append(
                    _adopt(_GovernedAsyncFunctionTool, BetaAsyncFunctionTool(tool), self.governor)
                )
            elif callable(tool):
                governed.append(_adopt(_GovernedFunctionTool, BetaFunctionTool(tool), self.governor))
            else:
                raise TypeError(f"not a function or beta tool: {tool!r}")
        return governed


class _GovernedFunctionTool(BetaFunctionTool[Any]):
    """A sync runner tool whose ``call`` is decided by the gate first."""

    _agt_governor: ToolGovernor

    def call(self, input: object) -> Any:
        """Decide on the input; run the tool only if allowed; a refusal raises `ToolError`."""
        verdict = _runner_check(self._agt_governor, self.name, input)
        started = time.perf_counter()
        try:
            result = super().call(input)
        except Exception as exc:
            self._agt_governor.complete(verdict, error=exc, duration_s=time.perf_counter() - started)
            raise
        return _runner_result(self._agt_governor, verdict, result, time.perf_counter() - started)


class _GovernedAsyncFunctionTool(BetaAsyncFunctionTool[Any]):
    """An async runner tool whose ``call`` is decided by the gate first."""

    _agt_governor: ToolGovernor

    async def call(self, input: object) -> Any:
        """Decide on the input; run the tool only if allowed; a refusal raises `ToolError`."""
        verdict = await _runner_check_async(self._agt_governor, self.name, input)
        started = time.perf_counter()
        try:
            result = await super().call(input)
        except Exception as exc:
            self._agt_governor.complete(verdict, error=exc, duration_s=time.perf_counter() - started)
            raise
        return _runner_result(self._agt_governor, verdict, result, time.perf_counter() - started)


def _adopt(cls: type[Any], tool: Any, governor: ToolGovernor) -> Any:
    """A governed copy of `tool` (same function, name, schema and options), of class `cls`."""
    governed = object.__new__(cls)
    governed.__dict__.update(tool.__dict__)
    governed._agt_governor = governor
    return governed


def _runner_check(governor: ToolGovernor, name: str, input: Any) -> Verdict:
    # A non-object input reaches the gate as is: the kernel refuses it, audited.
    verdict = governor.check(name, input, runner="beta")
    if not verdict.allowed:
        raise ToolError(verdict.message)
    return verdict


async def _runner_check_async(governor: ToolGovernor, name: str, input: Any) -> Verdict:
    verdict = await governor.check_async(name, input, runner="beta")
    if not verdict.allowed:
        raise ToolError(verdict.message)
    return verdict


def _runner_result(governor: ToolGovernor, verdict: Verdict, result: Any, duration: float) -> Any:
    post = governor.complete(verdict, result=result, duration_s=duration)
    if not post.allowed:
        raise ToolError(post.message)
    return result


def _tool_uses(message: Any) -> list[Any]:
    blocks = message.content if isinstance(message, (Message, BetaMessage)) else message
    return [block for block in blocks if getattr(block, "type", None) == "tool_use"]


def _fields(use: Any, context: Mapping[str, Any]) -> dict[str, Any]:
    return {**context, "tool_call_id": use.id}


def _error(use_id: str, text: str) -> ToolResultBlockParam:
    return {"type": "tool_result", "tool_use_id": use_id, "content": text, "is_error": True}


def _text(result: Any) -> str:
    if isinstance(result, str):
        return result
    try:
        return json.dumps(result)
    except (TypeError, ValueError):
        return str(result)
