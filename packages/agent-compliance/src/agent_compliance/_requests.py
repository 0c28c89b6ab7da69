"""Requests written by people (test cases, ``agt policy eval``), completed to the evaluator's shape."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_AGENT", "UsageError", "complete_request", "read_request_argument"]

DEFAULT_AGENT = "agt-cli"


class UsageError(Exception):
    """Bad input from the command line or an input file (exit code 2)."""


def complete_request(data: Any, *, where: str) -> dict[str, Any]:
    """Fill the parts a hand-written request may leave out.

    ``action`` may be a string (the tool's name, also used as its type); ``args`` and ``context``
    default to empty, ``agent`` to ``{"id": "agt-cli"}`` (a string is an agent id), ``stage`` to
    ``pre_tool``. The result is validated with `agt_core.EvaluationRequest`.

    Raises:
        UsageError: naming `where` when the request is not a valid evaluation request.
    """
    from pydantic import ValidationError

    from agt_core import EvaluationRequest

    if not isinstance(data, Mapping):
        raise UsageError(f"{where}: a request must be a mapping, got {type(data).__name__}")
    request = dict(data)
    action = request.get("action")
    if isinstance(action, str):
        request["action"] = {"type": action, "tool": action}
    agent = request.get("agent", {"id": DEFAULT_AGENT})
    request["agent"] = {"id": agent} if isinstance(agent, str) else agent
    request.setdefault("args", {})
    request.setdefault("context", {})
    request.setdefault("stage", "pre_tool")
    try:
        return EvaluationRequest.model_validate(request).to_data()
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"{where}: invalid request at `{path}`: {first['msg']}") from None


def read_request_argument(text: str) -> Any:
    """``--request`` value: JSON text, or ``@file`` holding JSON or YAML.

    Raises:
        UsageError: when the file cannot be read or the text does not parse.
    """
    if text.startswith("@"):
        path = text[1:]
        try:
            body = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read request file `{path}`: {exc.strerror}") from None
        import yaml

        try:
            return yaml.safe_load(body)
        except yaml.YAMLError as exc:
            raise UsageError(f"request file `{path}` is not valid JSON or YAML: {exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--request is not valid JSON: {exc}") from None
