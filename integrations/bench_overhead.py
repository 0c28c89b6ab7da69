"""Per-call cost of each adapter beyond the gate itself: ``python integrations/bench_overhead.py <adapter>``.

Run it with the adapter's own nox environment (its framework installed), e.g.::

    .nox/agt_langgraph/bin/python integrations/bench_overhead.py langgraph

For one allowed call it times the adapter's native hook(s) around a no-op tool. "adapter code"
runs the hook against a gate that answers instantly (a precomputed outcome), minus that gate's
own calls: what the adapter itself adds (reading the framework's objects, shaping the context,
its bookkeeping). It also times the whole hook with the real gate (in-memory audit log), and the
gate alone with and without the framework context, since a bigger request costs the kernel more
to freeze and hash. The framework's own dispatch is not included. Best of several rounds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

from agent_os import AuditLog, ToolGate
from agt_integrations.testing import POLICY

ROUNDS = 7
CALLS = 2000
ARGS = {"name": "users"}


def _best_us(run_round: Callable[[], float]) -> float:
    # The best round: on a shared machine every other round only adds other processes' noise.
    return min(run_round() for _ in range(ROUNDS))


def _sync_round(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    for _ in range(CALLS):
        fn()
    return (time.perf_counter() - start) / CALLS * 1e6


def _async_round(fn: Callable[[], Awaitable[Any]]) -> float:
    async def go() -> float:
        start = time.perf_counter()
        for _ in range(CALLS):
            await fn()
        return (time.perf_counter() - start) / CALLS * 1e6

    return asyncio.run(go())


def _gate_baseline(use_async: bool, context: dict[str, Any] | None) -> float:
    gate = ToolGate(policy=POLICY, audit=AuditLog(max_records=1000))
    if use_async:

        async def once_async() -> None:
            outcome = await gate.check_async("read_table", ARGS, context=context)
            gate.complete(outcome, result="ok", duration_s=0.0)

        return _best_us(lambda: _async_round(once_async))

    def once() -> None:
        gate.complete(gate.check("read_table", ARGS, context=context), result="ok", duration_s=0.0)

    return _best_us(lambda: _sync_round(once))


def _langgraph(cls: Any, options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    from langchain_core.messages import ToolMessage
    from langgraph.prebuilt.tool_node import ToolCallRequest

    hook = cls(**options)
    runtime = SimpleNamespace(
        config={"configurable": {"thread_id": "t1"}, "metadata": {"langgraph_node": "tools"}}
    )
    request = ToolCallRequest(
        tool_call={"name": "read_table", "args": ARGS, "id": "c1", "type": "tool_call"},
        tool=None,
        state={},
        runtime=runtime,  # type: ignore[arg-type]
    )
    result = ToolMessage(content="ok", tool_call_id="c1")
    return False, lambda: hook.wrap_tool_call(request, lambda _r: result)


def langgraph(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed call through the LangGraph `ToolNode` interceptor."""
    from agt_langgraph import ToolCallGovernance

    return _langgraph(ToolCallGovernance, options)


def langchain(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed call through the LangChain middleware."""
    from agt_langchain import GovernanceMiddleware

    return _langgraph(GovernanceMiddleware, options)


def openai_agents(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed call through the OpenAI Agents input and output guardrails."""
    from agents import Agent
    from agents.tool_context import ToolContext
    from agents.tool_guardrails import ToolInputGuardrailData, ToolOutputGuardrailData

    from agt_openai_agents import ToolGovernance

    governance = ToolGovernance(**options)
    agent: Agent[Any] = Agent(name="bench")

    context: ToolContext[Any] = ToolContext(
        None, tool_name="read_table", tool_call_id="c1", tool_arguments='{"name": "users"}'
    )
    before = ToolInputGuardrailData(context=context, agent=agent)
    after = ToolOutputGuardrailData(context=context, agent=agent, output="ok")

    async def once() -> None:
        await governance.input_guardrail.run(before)
        await governance.output_guardrail.run(after)

    return True, once


def pydantic_ai(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed call through the PydanticAI capability."""
    from pydantic_ai import RunContext
    from pydantic_ai.messages import ToolCallPart
    from pydantic_ai.models.test import TestModel
    from pydantic_ai.tools import ToolDefinition
    from pydantic_ai.usage import RunUsage

    from agt_pydantic_ai import ToolGovernance

    capability = ToolGovernance(**options)
    ctx: RunContext[None] = RunContext(deps=None, model=TestModel(), usage=RunUsage(), run_id="r1")
    call = ToolCallPart(tool_name="read_table", args=ARGS, tool_call_id="c1")
    tool_def = ToolDefinition(name="read_table")

    async def handler(args: dict[str, Any]) -> str:
        return "ok"

    return True, lambda: capability.wrap_tool_execute(
        ctx, call=call, tool_def=tool_def, args=ARGS, handler=handler
    )


def google_adk(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed call through the ADK plugin callbacks."""
    from agt_google_adk import GovernancePlugin

    plugin = GovernancePlugin(**options)
    tool = SimpleNamespace(name="read_table")
    # The attributes the plugin reads from ADK's ToolContext (building a real one needs a full invocation).
    context = SimpleNamespace(
        agent_name="bench",
        invocation_id="i1",
        session=SimpleNamespace(id="s1", app_name="bench"),
        user_id="u1",
        function_call_id="c1",
    )

    async def once() -> None:
        await plugin.before_tool_callback(tool=tool, tool_args=ARGS, tool_context=context)  # type: ignore[arg-type]
        await plugin.after_tool_callback(
            tool=tool, tool_args=ARGS, tool_context=context, result={"result": "ok"}
        )  # type: ignore[arg-type]

    return True, once


def agent_framework(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed call through the Agent Framework function middleware."""
    from agent_framework import FunctionInvocationContext, FunctionTool

    from agt_agent_framework import GovernanceMiddleware

    middleware = GovernanceMiddleware(**options)

    def read_table(name: str) -> str:
        """Read."""
        return "ok"

    function = FunctionTool(func=read_table, name="read_table")

    async def call_next() -> None:
        return None

    async def once() -> None:
        context = FunctionInvocationContext(function=function, arguments=ARGS, metadata={"call_id": "c1"})
        await middleware.process(context, call_next)

    return True, once


def crewai(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed call through the CrewAI tool hooks."""
    from crewai.hooks import ToolCallHookContext

    from agt_crewai import CrewGovernance

    governance = CrewGovernance(**options)

    tool_input = dict(ARGS)
    before = ToolCallHookContext("read_table", tool_input, tool=None)  # type: ignore[arg-type]
    after = ToolCallHookContext("read_table", tool_input, tool=None, tool_result="ok")  # type: ignore[arg-type]

    def once() -> None:
        governance.before_tool_call(before)
        governance.after_tool_call(after)

    return False, once


def agno(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed call through the Agno tool hook (sync run)."""
    from agt_agno import ToolGovernance

    hook = ToolGovernance(**options)
    agent = SimpleNamespace(name="bench", id="a1")
    run_context = SimpleNamespace(run_id="r1", session_id="s1", user_id="u1", workflow_id=None)

    def function_call(**kwargs: Any) -> str:
        return "ok"

    return False, lambda: hook(
        function_name="read_table",
        function_call=function_call,
        arguments=ARGS,
        agent=agent,
        run_context=run_context,
    )


def strands(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed call through the Strands intervention handler (before and after the tool)."""
    from strands.hooks.events import AfterToolCallEvent, BeforeToolCallEvent

    from agt_strands import ToolGovernance

    handler = ToolGovernance(**options)
    agent: Any = SimpleNamespace(name="bench", agent_id="a1")
    tool_use: Any = {"toolUseId": "c1", "name": "read_table", "input": ARGS}
    before = BeforeToolCallEvent(agent=agent, selected_tool=None, tool_use=tool_use, invocation_state={})
    result: Any = {"toolUseId": "c1", "status": "success", "content": [{"text": "ok"}]}
    after = AfterToolCallEvent(
        agent=agent, selected_tool=None, tool_use=tool_use, invocation_state={}, result=result
    )

    async def once() -> None:
        await handler.before_tool_call(before)
        handler.after_tool_call(after)

    return True, once


def openai(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed Chat Completions tool call through the OpenAI tool step (parse, decide, run, answer)."""
    from openai.types.chat import ChatCompletionMessageFunctionToolCall

    from agt_openai import ToolGovernance

    def read_table(name: str) -> str:
        return "ok"

    governance = ToolGovernance(tools=[read_table], **options)
    calls = [
        ChatCompletionMessageFunctionToolCall.model_validate(
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "read_table", "arguments": json.dumps(ARGS)},
            }
        )
    ]
    return False, lambda: governance.run_tool_calls(calls)


def anthropic(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed tool use through the Anthropic tool step (decide, run, answer)."""
    from anthropic.types import ToolUseBlock

    from agt_anthropic import ToolGovernance

    def read_table(name: str) -> str:
        return "ok"

    governance = ToolGovernance(tools=[read_table], **options)
    blocks = [ToolUseBlock(type="tool_use", id="c1", name="read_table", input=dict(ARGS))]
    return False, lambda: governance.run_tool_uses(blocks)


def a2a(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed outgoing A2A request through the client interceptor (before and after)."""
    from a2a.client.interceptors import AfterArgs, BeforeArgs
    from a2a.types import (
        AgentCard,
        AgentInterface,
        Message,
        Part,
        Role,
        SendMessageRequest,
        SendMessageResponse,
    )

    from agt_a2a import ClientGovernance

    interceptor = ClientGovernance(**options)
    card = AgentCard(name="ops", version="1", supported_interfaces=[AgentInterface(url="http://ops")])
    message = Message(role=Role.ROLE_USER, message_id="m1", parts=[Part(text="read users")])
    request = SendMessageRequest(message=message)
    response = SendMessageResponse(message=message)

    async def once() -> None:
        await interceptor.before(BeforeArgs(input=request, method="send_message", agent_card=card))
        await interceptor.after(AfterArgs(result=response, method="send_message", agent_card=card))

    return True, once


def dify(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed tool invocation through the Dify strategy's governed tool step."""
    from dify_plugin.entities.tool import ToolInvokeMessage
    from dify_plugin.interfaces.agent import ToolEntity

    from agt_dify import ToolGovernance

    governance = ToolGovernance(**options)
    identity = {"author": "a", "name": "read_table", "label": {"en_US": "r"}, "provider": "p"}
    tool = ToolEntity.model_validate({"identity": identity})
    answer = ToolInvokeMessage(type="text", message=ToolInvokeMessage.TextMessage(text="ok"))
    session = SimpleNamespace(
        app_id="a1",
        conversation_id="c1",
        message_id="m1",
        tool=SimpleNamespace(invoke=lambda *args, **kwargs: iter([answer])),
    )
    return False, lambda: governance.invoke_tool(session, tool, ARGS, tool_call_id="c1")


def autogen(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed call through the AutoGen governed workbench (inner workbench answers instantly)."""
    from autogen_core.tools import StaticWorkbench, TextResultContent, ToolResult

    from agt_autogen import GovernedWorkbench

    class Instant(StaticWorkbench):
        async def call_tool(self, name: str, *args: Any, **kwargs: Any) -> ToolResult:
            return ToolResult(name=name, result=[TextResultContent(content="ok")])

    workbench = GovernedWorkbench(Instant([]), agent_name="bench", **options)

    async def once() -> None:
        await workbench.call_tool("read_table", ARGS, None, "c1")

    return True, once


def autogen_messages(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed Core message through the AutoGen intervention handler."""
    from autogen_core import AgentId, CancellationToken, MessageContext

    from agt_autogen import MessageGovernance

    handler = MessageGovernance(**options)
    context = MessageContext(
        sender=AgentId("writer", "default"),
        topic_id=None,
        is_rpc=True,
        cancellation_token=CancellationToken(),
        message_id="m1",
    )
    recipient = AgentId("reviewer", "default")

    async def once() -> None:
        await handler.on_send(ARGS, message_context=context, recipient=recipient)

    return True, once


def semantic_kernel(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed model-initiated call through both Semantic Kernel filters (the function is a no-op)."""
    from semantic_kernel import Kernel
    from semantic_kernel.contents import FunctionCallContent
    from semantic_kernel.filters import AutoFunctionInvocationContext, FunctionInvocationContext
    from semantic_kernel.filters.kernel_filters_extension import (
        _rebuild_auto_function_invocation_context,
        _rebuild_function_invocation_context,
    )
    from semantic_kernel.functions import (
        FunctionResult,
        KernelArguments,
        KernelFunctionFromMethod,
        kernel_function,
    )

    from agt_semantic_kernel import KernelGovernance

    _rebuild_auto_function_invocation_context()
    _rebuild_function_invocation_context()

    governance = KernelGovernance(agent_name="bench", **options)

    @kernel_function(name="read_table")
    def read_table(name: str) -> str:
        return "ok"

    function = KernelFunctionFromMethod(method=read_table, plugin_name="ops")
    kernel = Kernel()
    call = FunctionCallContent(id="c1", name="ops-read_table", arguments=ARGS)

    result = FunctionResult(function=function.metadata, value="ok")

    async def inner_function(context: FunctionInvocationContext) -> None:
        context.result = result

    # The contexts SK would build for the call (built once: their construction is SK's dispatch).
    auto = AutoFunctionInvocationContext(
        function=function, kernel=kernel, arguments=KernelArguments(**ARGS), function_call_content=call
    )
    direct = FunctionInvocationContext(function=function, kernel=kernel, arguments=KernelArguments(**ARGS))

    async def inner_auto(context: AutoFunctionInvocationContext) -> None:
        direct.arguments = context.arguments
        await governance.function_invocation_filter(direct, inner_function)

    async def once() -> None:
        await governance.auto_function_invocation_filter(auto, inner_auto)

    return True, once


def llama_index(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed call through a LlamaIndex governed tool (the wrapped tool answers instantly)."""
    from llama_index.core.tools import AsyncBaseTool, ToolMetadata, ToolOutput

    from agt_llama_index import govern_tools

    output = ToolOutput(tool_name="read_table", content="ok", raw_input=ARGS, raw_output="ok")

    class Instant(AsyncBaseTool):
        @property
        def metadata(self) -> ToolMetadata:
            return ToolMetadata(name="read_table", description="Read a table.")

        def call(self, *args: Any, **kwargs: Any) -> ToolOutput:
            return output

        async def acall(self, *args: Any, **kwargs: Any) -> ToolOutput:
            return output

    [tool] = govern_tools([Instant()], agent_name="bench", **options)

    async def once() -> None:
        await tool.acall(**ARGS)

    return True, once


def haystack(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed call through the Haystack policy strategy (what ConfirmationHook asks per call)."""
    from agt_haystack import PolicyStrategy

    strategy = PolicyStrategy(agent_name="bench", **options)

    def once() -> None:
        strategy.run(
            tool_name="read_table", tool_description="Read a table.", tool_params=ARGS, tool_call_id="c1"
        )

    return False, once


def smolagents(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed call through a smolagents governed tool (the wrapped tool answers instantly)."""
    from smolagents import tool

    from agt_smolagents import govern_tools

    @tool
    def read_table(name: str) -> str:
        """Read a table.

        Args:
            name: the table
        """
        return "ok"

    [governed] = govern_tools([read_table], agent_name="bench", **options)

    def once() -> None:
        governed(**ARGS)

    return False, once


def dspy_tools(options: dict[str, Any]) -> tuple[bool, Callable[[], Any]]:
    """One allowed call through a DSPy governed tool (the function answers instantly)."""
    from agt_dspy import govern_tools

    # A **kwargs function: DSPy's own per-call argument validation (jsonschema plus a pydantic
    # model per argument, about 0.5 ms, paid by every dspy.Tool call, governed or not) is skipped,
    # so what is timed is the adapter.
    def read_table(**kwargs: Any) -> str:
        """Read a table."""
        return "ok"

    [governed] = govern_tools([read_table], agent_name="bench", **options)

    def once() -> None:
        governed(**ARGS)

    return False, once


ADAPTERS: dict[str, Callable[[dict[str, Any]], tuple[bool, Callable[[], Any]]]] = {
    "langgraph": langgraph,
    "langchain": langchain,
    "openai-agents": openai_agents,
    "pydantic-ai": pydantic_ai,
    "google-adk": google_adk,
    "agent-framework": agent_framework,
    "crewai": crewai,
    "agno": agno,
    "strands": strands,
    "openai": openai,
    "anthropic": anthropic,
    "a2a": a2a,
    "dify": dify,
    "autogen": autogen,
    "autogen-messages": autogen_messages,
    "semantic-kernel": semantic_kernel,
    "llama-index": llama_index,
    "haystack": haystack,
    "smolagents": smolagents,
    "dspy": dspy_tools,
}


class _InstantGate(ToolGate):
    """A real gate whose check and complete return one precomputed outcome: isolates the adapter's own code."""

    def __init__(self) -> None:
        super().__init__(policy=POLICY, audit=False)
        self._outcome = super().check("read_table", ARGS)

    def check(self, *args: Any, **kwargs: Any) -> Any:
        return self._outcome

    async def check_async(self, *args: Any, **kwargs: Any) -> Any:
        return self._outcome

    def complete(self, outcome: Any, **kwargs: Any) -> Any:
        return outcome


def main(name: str) -> None:
    """Print the adapter's own per-call cost and the kernel's, in microseconds."""
    factory = ADAPTERS[name]
    use_async, instant_hook = factory({"gate": _InstantGate()})
    instant = _InstantGate()
    if use_async:

        async def gate_only_async() -> None:
            instant.complete(await instant.check_async("read_table", ARGS), result="ok")

        floor = _best_us(lambda: _async_round(gate_only_async))
        own = _best_us(lambda: _async_round(instant_hook))
    else:
        floor = _best_us(
            lambda: _sync_round(lambda: instant.complete(instant.check("read_table", ARGS), result="ok"))
        )
        own = _best_us(lambda: _sync_round(instant_hook))

    log = AuditLog(max_records=1000)
    _, real_hook = factory({"policy": POLICY, "audit": log})
    full = _best_us(lambda: _async_round(real_hook) if use_async else _sync_round(real_hook))
    context = json.loads(
        json.dumps(log.records(last=1)[0].request["context"])
    )  # plain dicts, as adapters pass
    bare = _gate_baseline(use_async, None)
    same = _gate_baseline(use_async, context)
    print(
        f"{name}: adapter code {own - floor:.1f} us/call; whole hook with the real gate {full:.1f} us "
        f"(gate alone {bare:.1f} us, gate with the adapter's framework context {same:.1f} us)"
    )


if __name__ == "__main__":
    main(sys.argv[1])
