"""Governance for Dify plugins (dify-plugin): an agent strategy that owns the loop.

Dify has no tool-call hook a plugin can register. An *agent strategy* plugin, though, owns its
agent's loop: it asks the model (``session.model.llm.invoke``) and runs each tool the model
calls (``session.tool.invoke``). `ToolGovernance.invoke_tool` is that tool step, governed: the
call is decided on exactly the parameters that would be sent, and only an allowed call reaches
``session.tool.invoke``; a refused one returns the refusal text, which the strategy hands the
model as the tool's message. `GovernedFunctionCallingStrategy` is a complete function-calling
strategy built on it (a subclass sets ``governance``), for agents configured to use it.
"""

from __future__ import annotations

import importlib.metadata
import json
import time
from collections.abc import Generator, Mapping
from typing import Any, ClassVar

from dify_plugin import AgentStrategy  # type: ignore[import-untyped]  # dify-plugin ships no type information
from dify_plugin.entities.agent import AgentInvokeMessage  # type: ignore[import-untyped]
from dify_plugin.entities.model.llm import LLMModelConfig, LLMResult  # type: ignore[import-untyped]
from dify_plugin.entities.model.message import (  # type: ignore[import-untyped]
    AssistantPromptMessage,
    PromptMessage,
    SystemPromptMessage,
    ToolPromptMessage,
    UserPromptMessage,
)
from dify_plugin.interfaces.agent import AgentModelConfig, ToolEntity  # type: ignore[import-untyped]
from pydantic import BaseModel

from agent_os import ToolGate
from agt_integrations import OnRefusal, ToolGovernor

__all__ = ["GovernedFunctionCallingStrategy", "ToolGovernance"]


class ToolGovernance:
    """The governed tool step of a Dify agent strategy.

    Args:
        policy: Anything `agent_os.govern` accepts as ``policy=``.
        on_refusal: ``"refuse"`` returns the refusal as the tool's text; ``"raise"`` raises
            `GovernanceDenied` (or the gate's own error), which ends the strategy's invocation
            with an error.
        gate: An `agent_os.ToolGate` to share instead of building one.
        **gate_options: Passed to `agent_os.ToolGate` (``audit``, ``agent_id``,
            ``approval_handler``, ...).
    """

    def __init__(
        self,
        policy: Any = None,
        *,
        on_refusal: OnRefusal = "refuse",
        gate: ToolGate | None = None,
        **gate_options: Any,
    ) -> None:
        self.governor = ToolGovernor(
            policy,
            framework="dify",
            framework_version=importlib.metadata.version("dify-plugin"),
            on_refusal=on_refusal,
            gate=gate,
            **gate_options,
        )

    @property
    def gate(self) -> ToolGate:
        """The `agent_os.ToolGate` deciding the calls."""
        return self.governor.gate

    def invoke_tool(
        self, session: Any, tool: ToolEntity, parameters: Mapping[str, Any], **context: Any
    ) -> tuple[bool, str]:
        """Decide one tool call; invoke it through ``session.tool.invoke`` only if allowed.

        Args:
            session: The strategy's ``self.session``.
            tool: The `ToolEntity` the model called.
            parameters: The model's arguments merged with the tool's runtime parameters:
                exactly what ``session.tool.invoke`` receives.
            **context: Recorded under ``context.framework`` (``tool_call_id``, ...).

        Returns:
            Whether it ran, and the text for the model (the tool's output or the refusal).
        """
        identity = tool.identity
        fields = {
            **context,
            "provider": identity.provider,
            "provider_type": getattr(tool.provider_type, "value", str(tool.provider_type)),
            "app_id": getattr(session, "app_id", None),
            "conversation_id": getattr(session, "conversation_id", None),
            "message_id": getattr(session, "message_id", None),
        }
        verdict = self.governor.check(identity.name, parameters, **fields)
        if not verdict.allowed:
            if self.governor.raises:
                raise verdict.exception()
            return False, verdict.message
        started = time.perf_counter()
        try:
            messages = session.tool.invoke(
                tool.provider_type,
                identity.provider,
                identity.name,
                dict(parameters),
                credential_id=tool.credential_id,
            )
            text = _text(messages)
        except Exception as exc:
            self.governor.complete(verdict, error=exc, duration_s=time.perf_counter() - started)
            return True, f"tool call failed: {type(exc).__name__}: {exc}"
        post = self.governor.complete(verdict, result=text, duration_s=time.perf_counter() - started)
        if not post.allowed:
            if self.governor.raises:
                raise post.exception()
            return True, post.message
        return True, text


class FunctionCallingParams(BaseModel):
    """The strategy's parameters, as Dify sends them (declared in the plugin's strategy YAML)."""

    query: str
    instruction: str | None = None
    model: AgentModelConfig
    tools: list[ToolEntity] | None = None
    maximum_iterations: int = 5


class GovernedFunctionCallingStrategy(AgentStrategy):  # type: ignore[misc]
    """A function-calling agent strategy whose every tool invocation is governed.

    Subclass it in your plugin and set ``governance``::

        class OpsStrategy(GovernedFunctionCallingStrategy):
            governance = ToolGovernance(policy="policy.yaml")

    Parameters (declare them in the strategy's YAML): ``query``, ``instruction``, ``model``
    (``model-selector``), ``tools`` (``array[tools]``), ``maximum_iterations``.
    """

    governance: ClassVar[ToolGovernance]

    def _invoke(self, parameters: dict[str, Any]) -> Generator[AgentInvokeMessage, None, None]:
        params = FunctionCallingParams.model_validate(parameters)
        tools = {t.identity.name: t for t in params.tools or []}
        prompt_tools = [self._convert_tool_to_prompt_message_tool(t) for t in tools.values()]
        messages: list[PromptMessage] = []
        if params.instruction:
            messages.append(SystemPromptMessage(content=params.instruction))
        messages += [*params.model.history_prompt_messages, UserPromptMessage(content=params.query)]
        model_config = LLMModelConfig(**params.model.model_dump(mode="json"))
        for _ in range(max(1, params.maximum_iterations)):
            result: LLMResult = self.session.model.llm.invoke(
                model_config=model_config, prompt_messages=messages, tools=prompt_tools, stream=False
            )
            reply = result.message
            if not reply.tool_calls:
                yield self.create_text_message(_content(reply))
                return
            messages.append(AssistantPromptMessage(content=reply.content or "", tool_calls=reply.tool_calls))
            for call in reply.tool_calls:
                messages.append(self._tool_message(tools, call))
        yield self.create_text_message("stopped: the maximum number of iterations was reached")

    def _tool_message(
        self, tools: Mapping[str, ToolEntity], call: AssistantPromptMessage.ToolCall
    ) -> ToolPromptMessage:
        name = call.function.name
        tool = tools.get(name)
        if tool is None:
            text = f"tool call failed: unknown tool `{name}`"
        else:
            try:
                args: Any = json.loads(call.function.arguments) if call.function.arguments.strip() else {}
            except ValueError:
                args = call.function.arguments  # not JSON: the gate refuses it (audited)
            if isinstance(args, dict):
                args = {**args, **tool.runtime_parameters}
            _, text = self.governance.invoke_tool(self.session, tool, args, tool_call_id=call.id)
        return ToolPromptMessage(content=text, tool_call_id=call.id, name=name)


def _text(messages: Any) -> str:
    parts: list[str] = []
    for message in messages:
        body = message.message
        if hasattr(body, "text"):
            parts.append(str(body.text))
        elif hasattr(body, "json_object"):
            parts.append(json.dumps(body.json_object))
        else:
            parts.append(str(body))
    return "\n".join(parts)


def _content(message: AssistantPromptMessage) -> str:
    content = message.content
    if isinstance(content, str) or content is None:
        return content or ""
    return "".join(str(getattr(part, "data", "")) for part in content)
