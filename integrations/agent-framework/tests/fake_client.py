"""A scripted chat client for Agent Framework (the package ships no offline fake model)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from agent_framework import (
    BaseChatClient,
    ChatMiddlewareLayer,
    ChatResponse,
    ChatResponseUpdate,
    Content,
    FunctionInvocationLayer,
    Message,
    ResponseStream,
)


class ScriptedChatClient(FunctionInvocationLayer[Any], ChatMiddlewareLayer[Any], BaseChatClient[Any]):
    """First turn: the scripted function calls (in parallel); then "done". Records every request."""

    def __init__(self, calls: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        super().__init__()
        self.calls = list(calls)
        self.seen: list[list[Message]] = []

    def _turn(self, messages: Sequence[Message]) -> Message:
        self.seen.append(list(messages))
        if len(self.seen) == 1:
            contents = [
                Content.from_function_call(call_id=cid, name=name, arguments=args)
                for name, cid, args in self.calls
            ]
            return Message(role="assistant", contents=contents)
        return Message(role="assistant", contents=["done"])

    def _inner_get_response(
        self, *, messages: Sequence[Message], stream: bool, options: Mapping[str, Any], **kwargs: Any
    ) -> Any:
        message = self._turn(messages)
        if not stream:

            async def respond() -> ChatResponse:
                return ChatResponse(messages=[message])

            return respond()

        async def updates() -> AsyncIterator[ChatResponseUpdate]:
            yield ChatResponseUpdate(role="assistant", contents=list(message.contents))

        return ResponseStream(updates(), finalizer=ChatResponse.from_updates)

    def results(self) -> dict[str, str]:
        """Function results the model was shown on its second turn, by call id."""
        out = {}
        for message in self.seen[1]:
            for content in message.contents:
                if content.type == "function_result":
                    out[content.call_id] = str(content.result)
        return out
