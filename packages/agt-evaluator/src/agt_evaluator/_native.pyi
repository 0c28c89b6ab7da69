"""Type stub of the compiled module (crates/agt-evaluator-py)."""

from typing import Any

ENGINE_VERSION: str

class EnginePanic(RuntimeError):
    """The native engine panicked; the call must fail closed."""

class CompileError(ValueError):
    """A policy the engine refuses: args are (message, policy, path, line, column)."""

class NativePolicySet:
    def __init__(self, policies: list[tuple[str, list[str], str, list[str]]]) -> None: ...
    def evaluate(self, request: Any) -> Any: ...
    def evaluate_effect(self, request: Any) -> tuple[str, str | None]: ...
    def convert_only(self, request: Any) -> bool: ...
    @property
    def hash(self) -> str: ...
    @property
    def policy_names(self) -> list[str]: ...
    @property
    def policy_hashes(self) -> list[tuple[str, str]]: ...
    @property
    def stages(self) -> list[str]: ...
    @property
    def limits(self) -> list[tuple[str, str, str]]: ...
    @property
    def warnings(self) -> list[str]: ...

class CallPlan:
    def __init__(
        self,
        policy_set: NativePolicySet,
        tool: str,
        params: list[tuple[str, Any, bool, list[type]]],
        agent: dict[str, Any],
        context: dict[str, Any],
        agent_json: str,
        context_json: str,
        limits: tuple[int, int, int],
        trail: NativeTrail | None = None,
    ) -> None: ...
    def decide(self, kwargs: dict[str, Any]) -> Any | None: ...
    def decide_and_append(self, kwargs: dict[str, Any]) -> Any | None: ...

class NativeTrail:
    def __init__(
        self,
        max_records: int,
        max_chars: int,
        next_seq: int,
        head: str,
        anchor_seq: int,
        anchor_hash: str,
        entries: list[tuple[str, str]],
    ) -> None: ...
    def append(
        self, request_json: str, decision_json: str, approval_json: str, timestamp_micros: int | None = None
    ) -> str: ...
    def snapshot(self) -> tuple[list[tuple[str, str]], int, str, int, str, int]: ...
    def state(self) -> tuple[int, int, str, int, str, int]: ...
    def _tamper_for_tests(self, index: int, hash: str, body: str | None = None) -> None: ...

def content_hash(text: str) -> str: ...
def chain_record(
    seq: int,
    prev_hash: str,
    request_json: str,
    decision_json: str,
    approval_json: str,
    timestamp_micros: int | None = None,
) -> tuple[str, str]: ...
def _panic_for_tests(message: str) -> None: ...
