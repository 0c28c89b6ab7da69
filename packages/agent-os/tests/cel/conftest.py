from __future__ import annotations

from typing import Any

import pytest

from agent_os._cel import CelEvalError, CelSyntaxError, compile_condition


def base_activation() -> dict[str, Any]:
    return {
        "action": {"type": "send_email", "tool": "mailer"},
        "args": {
            "to": "bob@external.com",
            "amount": 150,
            "price": 9.5,
            "flag": True,
            "nothing": None,
            "tags": ["a", "b", "c"],
            "items": [{"name": "x", "price": 10}, {"name": "y", "price": 200}],
            "nested": {"deep": {"value": 7}},
            "amount_str": "5000",
            "weird-key": "w",
            "not": "n",
            "in": "i",
            "if": "f",
        },
        "agent": {"id": "agent-1", "roles": ["reader"]},
        "context": {"tenant": "acme"},
        "stage": "pre_tool",
    }


@pytest.fixture
def activation() -> dict[str, Any]:
    return base_activation()


def ev(source: str, activation: dict[str, Any] | None = None) -> Any:
    return compile_condition(source).evaluate(base_activation() if activation is None else activation)


def ev_error(source: str, activation: dict[str, Any] | None = None) -> str:
    program = compile_condition(source)
    with pytest.raises(CelEvalError) as info:
        program.evaluate(base_activation() if activation is None else activation)
    return info.value.message


def syntax_error(source: str) -> CelSyntaxError:
    with pytest.raises(CelSyntaxError) as info:
        compile_condition(source)
    return info.value
