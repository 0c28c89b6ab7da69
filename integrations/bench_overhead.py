"""Per-call cost of each adapter beyond the gate itself: ``python integrations/bench_overhead.py <adapter>``.

Run it with the adapter's own nox environment (its framework installed), e.g.::

    .nox/agt_langgraph/bin/python integrations/bench_overhead.py langgraph

For one allowed call it times (a) ``ToolGate.check`` + ``complete`` alone and (b) the adapter's
native hook(s) around a no-op tool, both with an in-memory audit log, and prints the medians
and the difference: what the adapter adds (context shaping, the framework objects it reads, its
bookkeeping). The framework's own dispatch is not included.
"""

from __future__ import annotations

import asyncio
import statistics
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


def _median_us(run_round: Callable[[], float]) -> float:
    return statistics.median(run_round() for _ in range(ROUNDS))


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


def _gate_baseline(use_async: bool) -> float:
    gate = ToolGate(policy=POLICY, audit=AuditLog(max_records=1000))
    if use_async:

        async def once_async() -> None:
            gate.complete(await gate.check_async("read_table", ARGS), result="ok", duration_s=0.0)

        return _median_us(lambda: _async_round(once_async))

    def once() -> None:
        gate.complete(gate.check("read_table", ARGS), result="ok", duration_s=0.0)

    return _median_us(lambda: _sync_round(once))


def _langgraph(cls: Any) -> tuple[bool, Callable[[], Any]]:
    from langchain_core.messages import ToolMessage
    from langgraph.prebuilt.tool_node import ToolCallRequest

    hook = cls(POLICY, audit=AuditLog(max_records=1000))
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


def langgraph() -> tuple[bool, Callable[[], Any]]:
    from agt_langgraph import ToolCallGovernance

    return _langgraph(ToolCallGovernance)


def langchain() -> tuple[bool, Callable[[], Any]]:
    from agt_langchain import GovernanceMiddleware

    return _langgraph(GovernanceMiddleware)


def openai_agents() -> tuple[bool, Callable[[], Any]]:
    from agents import Agent
    from agents.tool_context import ToolContext
    from agents.tool_guardrails import ToolInputGuardrailData, ToolOutputGuardrailData

    from agt_openai_agents import ToolGovernance

    governance = ToolGovernance(POLICY, audit=AuditLog(max_records=1000))
    agent: Agent[Any] = Agent(name="bench")

    async def once() -> None:
        context: ToolContext[Any] = ToolContext(
            None, tool_name="read_table", tool_call_id="c1", tool_arguments='{"name": "users"}'
        )
        await governance.input_guardrail.run(ToolInputGuardrailData(context=context, agent=agent))
        await governance.output_guardrail.run(
            ToolOutputGuardrailData(context=context, agent=agent, output="ok")
        )

    return True, once


def pydantic_ai() -> tuple[bool, Callable[[], Any]]:
    from pydantic_ai import RunContext
    from pydantic_ai.messages import ToolCallPart
    from pydantic_ai.models.test import TestModel
    from pydantic_ai.tools import ToolDefinition
    from pydantic_ai.usage import RunUsage

    from agt_pydantic_ai import ToolGovernance

    capability = ToolGovernance(POLICY, audit=AuditLog(max_records=1000))
    ctx: RunContext[None] = RunContext(deps=None, model=TestModel(), usage=RunUsage(), run_id="r1")
    call = ToolCallPart(tool_name="read_table", args=ARGS, tool_call_id="c1")
    tool_def = ToolDefinition(name="read_table")

    async def handler(args: dict[str, Any]) -> str:
        return "ok"

    return True, lambda: capability.wrap_tool_execute(
        ctx, call=call, tool_def=tool_def, args=ARGS, handler=handler
    )


def google_adk() -> tuple[bool, Callable[[], Any]]:
    from agt_google_adk import GovernancePlugin

    plugin = GovernancePlugin(POLICY, audit=AuditLog(max_records=1000))
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


def agent_framework() -> tuple[bool, Callable[[], Any]]:
    from agent_framework import FunctionInvocationContext, FunctionTool

    from agt_agent_framework import GovernanceMiddleware

    middleware = GovernanceMiddleware(POLICY, audit=AuditLog(max_records=1000))

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


def crewai() -> tuple[bool, Callable[[], Any]]:
    from crewai.hooks import ToolCallHookContext

    from agt_crewai import CrewGovernance

    governance = CrewGovernance(POLICY, audit=AuditLog(max_records=1000))

    def once() -> None:
        tool_input = dict(ARGS)
        governance.before_tool_call(ToolCallHookContext("read_table", tool_input, tool=None))  # type: ignore[arg-type]
        governance.after_tool_call(ToolCallHookContext("read_table", tool_input, tool=None, tool_result="ok"))  # type: ignore[arg-type]

    return False, once


ADAPTERS: dict[str, Callable[[], tuple[bool, Callable[[], Any]]]] = {
    "langgraph": langgraph,
    "langchain": langchain,
    "openai-agents": openai_agents,
    "pydantic-ai": pydantic_ai,
    "google-adk": google_adk,
    "agent-framework": agent_framework,
    "crewai": crewai,
}


def main(name: str) -> None:
    """Print the gate's and the adapter's per-call cost, in microseconds."""
    use_async, hook = ADAPTERS[name]()
    adapter = _median_us(lambda: _async_round(hook) if use_async else _sync_round(hook))
    gate = _gate_baseline(use_async)
    print(f"{name}: gate {gate:.1f} us, adapter {adapter:.1f} us, overhead {adapter - gate:.1f} us per call")


if __name__ == "__main__":
    main(sys.argv[1])
