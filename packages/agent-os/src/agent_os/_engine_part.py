"""What the Rego and Cedar backends share: one policy file compiled by a foreign engine.

A part is one ``.rego`` or ``.cedar`` file compiled once by its engine. It decides a request
into an `agt_core.Decision` and never raises for anything the request holds: an engine error,
a result outside the documented contract, or a request the engine cannot represent is a deny
with the reason in ``Decision.errors`` (fail closed). `agent_os._combined` puts parts and the
YAML policy set under one decision.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Protocol

from agt_core import Decision, PolicyError, RuleError, Stage

__all__ = ["EnginePart", "deny", "line_column", "missing_engine", "read_source", "source_hash"]

_MAX_SOURCE_BYTES = 4 * 1024 * 1024


class EnginePart(Protocol):
    """One compiled Rego or Cedar policy (see the module docstring)."""

    @property
    def name(self) -> str: ...

    @property
    def content_hash(self) -> str: ...

    @property
    def evaluator(self) -> str:
        """The engine's name (``rego``, ``cedar``): what its decisions record as their evaluator."""
        ...

    def evaluate(self, request: Mapping[str, Any]) -> Decision: ...


REGO_DATA_SUFFIXES = (".data.json", ".data.yaml", ".data.yml")
"""A Rego module's data documents sit beside it as ``<stem><suffix>`` (not policies themselves)."""


def source_hash(kind: str, *texts: str) -> str:
    """``sha256:<hex>`` over the engine kind and the exact source texts (what the audit pins)."""
    digest = hashlib.sha256(kind.encode())
    for text in texts:
        data = text.encode()
        digest.update(b"\0" + str(len(data)).encode() + b"\0" + data)
    return "sha256:" + digest.hexdigest()


def read_source(path: str) -> str:
    """The text of a policy file, refused with the file named when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        raise PolicyError(f"cannot read policy file: {exc.strerror or exc}", file=path) from exc
    if len(data) > _MAX_SOURCE_BYTES:
        raise PolicyError("policy file is larger than 4 MiB", file=path, help="split it into several files")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError("policy file is not UTF-8", file=path, help="save it as UTF-8") from exc


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset in `text`."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def missing_engine(module: str, extra: str, file: str | None) -> PolicyError:
    """The error for a ``.rego``/``.cedar`` policy when its engine is not installed."""
    return PolicyError(
        f"loading this policy needs the `{module}` engine, which is not installed",
        file=file,
        help=f"pip install 'agent-os[{extra}]'",
    )


def deny(
    *, policy: str, policy_hash: str, message: str, rule: str | None = None, stage: Stage = "pre_tool"
) -> Decision:
    """A fail-closed deny: the engine could not decide, and the reason is the recorded error."""
    return Decision(
        effect="deny",
        allowed=False,
        rule=rule,
        policy=policy,
        policy_hash=policy_hash,
        message=message,
        stage=stage,
        errors=(RuleError(policy=policy, rule=rule, message=message),),
    )
