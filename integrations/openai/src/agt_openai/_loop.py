"""Governance for the OpenAI Python SDK 3.x: the tool step of your own tool loop.

The SDK executes no function tools: the model answers with tool calls and the application runs
them. That application step is the interception point, so the adapter *is* that step:
`ToolGovernance.run_tool_calls` takes a Chat Completions message's ``tool_calls`` (function and
custom tools), `ToolGovernance.run_function_calls` a Responses API output's ``function_call`` and
``custom_tool_call`` items. Each call is decided by the gate on exactly the arguments the function
will receive (parsed once from the model's JSON), only allowed calls run, and every call gets its
result message in the SDK's own parameter types: a refusal is the result text, which the model
reads on its next turn. Raise mode decides the whole batch first and raises before any call runs.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from openai.types.chat import (
    ChatCompletionMessage,
    ChatCompletionMessageCustomToolCall,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionToolMessageParam,
)
from openai.types.responses import (
    Response,
    ResponseCustomToolCall,
    ResponseCustomToolCallOutputParam,
    ResponseFunctionToolCall,
)
from openai.types.responses.response_input_item_param import FunctionCallOutput

from agent_os import ToolGate
from agt_integrations import OnRefusal, ToolGovernor, Verdict

__all__ = ["ToolGovernance"]

ResponsesOutput = FunctionCallOutput | ResponseCustomToolCallOutputParam


class _Call(NamedTuple):
    """One tool call, whatever its SDK type: what the gate judges and the function receives."""

    call_id: str
    name: str
    args: Any  # the parsed arguments (a dict when they are a JSON object)
    custom: bool  # a custom tool: the function receives the model's text as one argument
    kind: str  # "chat", "function_call" or "custom_tool_call"


class ToolGovernance:
    """Runs the model's tool calls for your loop, each checked against policy first.

    Usage::

        governance = ToolGovernance(policy="policy.yaml", tools=[read_table, delete_db])
        messages += governance.run_tool_calls(completion.choices[0].message)

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        tools: The functions the model may call: a mapping from tool name to function, or
            functions (named by ``__name__``). Sync or async. A custom tool's function receives
            the model's text as its one positional argument.
        on_refusal: ``"refuse"`` answers a refused call with the refusal as its result;
            ``"raise"`` raises `GovernanceDenied` (or the gate's own error) before any call of
            the batch runs.
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    def __init__(
        self,
        policy: Any = None,
        *,
        tools: Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any]],
        on_refusal: OnRefusal = "refuse",
        gate: ToolGate | None = None,
        **gate_options: Any,
    ) -> None:
        self.governor = ToolGovernor(
            policy,
            framework="openai",
            framework_version=importlib.metadata.version("openai"),
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

    # -- Chat Completions ------------------------------------------------------------------------

    def run_tool_calls(
        self,
        message: ChatCompletionMessage
        | Iterable[ChatCompletionMessageFunctionToolCall | ChatCompletionMessageCustomToolCall],
        **context: Any,
    ) -> list[ChatCompletionToolMessageParam]:
        """Govern and run a Chat Completions message's tool calls; one ``tool`` message per call.

        Args:
            message: The assistant message (its ``tool_calls``) or the tool calls themselves.
            **context: Recorded under ``context.framework`` (``agent``, ``thread_id``, ...).
        """
        calls = _chat_calls(message)
        verdicts = [self._check(call, context) for call in calls]
        self._raise_if_refused(verdicts)
        return [
            _chat_output(call, self._run(call, verdict))
            for call, verdict in zip(calls, verdicts, strict=True)
        ]

    async def arun_tool_calls(
        self,
        message: ChatCompletionMessage
        | Iterable[ChatCompletionMessageFunctionToolCall | ChatCompletionMessageCustomToolCall],
        **context: Any,
    ) -> list[ChatCompletionToolMessageParam]:
        """`run_tool_calls` for async loops: async functions and approval handlers are awaited."""
        calls = _chat_calls(message)
        verdicts = [await self._check_async(call, context) for call in calls]
        self._raise_if_refused(verdicts)
        return [
            _chat_output(call, await self._run_async(call, v))
            for call, v in zip(calls, verdicts, strict=True)
        ]

    # -- Responses API ---------------------------------------------------------------------------

    def run_function_calls(self, response: Response | Iterable[Any], **context: Any) -> list[ResponsesOutput]:
        """Govern and run a Responses API output's function and custom tool calls.

        Args:
            response: The `Response` (its ``output``) or output items; items that are not
                ``function_call`` / ``custom_tool_call`` (messages, reasoning, hosted tools) are skipped.
            **context: Recorded under ``context.framework``.

        Returns:
            One ``function_call_output`` / ``custom_tool_call_output`` input item per call.
        """
        calls = _responses_calls(response)
        verdicts = [self._check(call, context) for call in calls]
        self._raise_if_refused(verdicts)
        return [_responses_output(call, self._run(call, v)) for call, v in zip(calls, verdicts, strict=True)]

    async def arun_function_calls(
        self, response: Response | Iterable[Any], **context: Any
    ) -> list[ResponsesOutput]:
        """`run_function_calls` for async loops."""
        calls = _responses_calls(response)
        verdicts = [await self._check_async(call, context) for call in calls]
        self._raise_if_refused(verdicts)
        return [
            _responses_output(call, await self._run_async(call, v))
            for call, v in zip(calls, verdicts, strict=True)
        ]

    # -- the shared steps ------------------------------------------------------------------------

    def _fields(self, call: _Call, context: Mapping[str, Any]) -> dict[str, Any]:
        return {**context, "tool_call_id": call.call_id, "api": call.kind}

    def _check(self, call: _Call, context: Mapping[str, Any]) -> Verdict:
        # A non-object argument list reaches the gate as is: the kernel refuses it, audited.
        return self.governor.check(call.name, call.args, **self._fields(call, context))

    async def _check_async(self, call: _Call, context: Mapping[str, Any]) -> Verdict:
        return await self.governor.check_async(call.name, call.args, **self._fields(call, context))

    def _raise_if_refused(self, verdicts: list[Verdict]) -> None:
        if self.governor.raises:
            for verdict in verdicts:
                if not verdict.allowed:
                    raise verdict.exception()

    def _function(self, call: _Call) -> Callable[..., Any] | None:
        return self.tools.get(call.name)

    def _run(self, call: _Call, verdict: Verdict) -> str:
        if not verdict.allowed:
            return verdict.message
        function = self._function(call)
        if function is None:
            return self._finish(verdict, None, LookupError(f"unknown tool `{call.name}`"), 0.0)
        if inspect.iscoroutinefunction(function):
            error = TypeError(f"tool `{call.name}` is async: use the async method")
            return self._finish(verdict, None, error, 0.0)
        started = time.perf_counter()
        try:
            result = function(call.args["input"]) if call.custom else function(**call.args)
        except Exception as exc:
            return self._finish(verdict, None, exc, time.perf_counter() - started)
        return self._finish(verdict, result, None, time.perf_counter() - started)

    async def _run_async(self, call: _Call, verdict: Verdict) -> str:
        if not verdict.allowed:
            return verdict.message
        function = self._function(call)
        if function is None:
            return self._finish(verdict, None, LookupError(f"unknown tool `{call.name}`"), 0.0)
        started = time.perf_counter()
        try:
            result = function(call.args["input"]) if call.custom else function(**call.args)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            return self._finish(verdict, None, exc, time.perf_counter() - started)
        return self._finish(verdict, result, None, time.perf_counter() - started)

    def _finish(self, verdict: Verdict, result: Any, error: BaseException | None, duration: float) -> str:
        if error is not None:
            self.governor.complete(verdict, error=error, duration_s=duration)
            return f"tool call failed: {type(error).__name__}: {error}"
        post = self.governor.complete(verdict, result=result, duration_s=duration)
        if not post.allowed:
            if self.governor.raises:
                raise post.exception()
            return post.message
        return _text(result)


def _parse(arguments: str) -> Any:
    """The model's JSON arguments, parsed once; unparseable text stays text (the gate refuses it)."""
    try:
        return json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return arguments


def _chat_calls(message: Any) -> list[_Call]:
    tool_calls = (message.tool_calls or []) if isinstance(message, ChatCompletionMessage) else message
    calls = []
    for call in tool_calls:
        if isinstance(call, ChatCompletionMessageCustomToolCall):
            calls.append(_Call(call.id, call.custom.name, {"input": call.custom.input}, True, "chat"))
        else:
            calls.append(_Call(call.id, call.function.name, _parse(call.function.arguments), False, "chat"))
    return calls


def _responses_calls(response: Any) -> list[_Call]:
    items = response.output if isinstance(response, Response) else response
    calls = []
    for item in items:
        if isinstance(item, ResponseFunctionToolCall):
            calls.append(_Call(item.call_id, item.name, _parse(item.arguments), False, "function_call"))
        elif isinstance(item, ResponseCustomToolCall):
            calls.append(_Call(item.call_id, item.name, {"input": item.input}, True, "custom_tool_call"))
    return calls


def _chat_output(call: _Call, text: str) -> ChatCompletionToolMessageParam:
    return {"role": "tool", "tool_call_id": call.call_id, "content": text}


def _responses_output(call: _Call, text: str) -> ResponsesOutput:
    if call.custom:
        return {"type": "custom_tool_call_output", "call_id": call.call_id, "output": text}
    return {"type": "function_call_output", "call_id": call.call_id, "output": text}


def _text(result: Any) -> str:
    if isinstance(result, str):
        return result
    try:
        return json.dumps(result)
    except (TypeError, ValueError):
        return str(result)
