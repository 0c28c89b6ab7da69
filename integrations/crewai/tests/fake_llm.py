"""A scripted CrewAI LLM (CrewAI ships no offline fake): native tool calls first, then a final answer."""

from __future__ import annotations

import json
from typing import Any

from crewai.llms.base_llm import BaseLLM
from pydantic import Field


class ScriptedLLM(BaseLLM):
    """Turn 1: the scripted tool calls (OpenAI shape); later turns: "done". Records every message list."""

    script: list[dict[str, Any]] = Field(default_factory=list)
    seen: list[list[dict[str, Any]]] = Field(default_factory=list)

    def supports_function_calling(self) -> bool:
        return True

    def call(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> Any:
        self.seen.append(
            [dict(m) for m in messages] if isinstance(messages, list) else [{"content": messages}]
        )
        if len(self.seen) == 1:
            return [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": json.dumps(c["args"])},
                }
                for c in self.script
            ]
        return "done"

    def tool_results(self) -> list[str]:
        """The tool-result messages the model was shown on its second turn."""
        return [str(m.get("content")) for m in self.seen[1] if m.get("role") == "tool"]


class ReActLLM(ScriptedLLM):
    """The same script without native tool calling: CrewAI's ReAct text protocol, one action per turn."""

    def supports_function_calling(self) -> bool:
        return False

    def call(self, messages: Any, *args: Any, **kwargs: Any) -> Any:
        self.seen.append(
            [dict(m) for m in messages] if isinstance(messages, list) else [{"content": messages}]
        )
        turn = len(self.seen) - 1
        if turn < len(self.script):
            step = self.script[turn]
            return f"Thought: next step\nAction: {step['name']}\nAction Input: {json.dumps(step['args'])}"
        return "Thought: finished\nFinal Answer: done"

    def observations(self) -> list[str]:
        """Every message the model was shown after its first turn (ReAct observations land there)."""
        return [str(m.get("content")) for turn in self.seen[1:] for m in turn]
