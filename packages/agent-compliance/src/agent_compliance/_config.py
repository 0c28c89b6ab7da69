"""The deployment file `agt verify --config` reads: what the agents run with, so it can be attacked.

```yaml
# agt.yaml (paths are relative to this file)
policies: [policies/]            # what govern() loads
agent_id: billing-agent          # the agent id probes act as (default agt-verify-probe)
command_policy: commands.yaml    # agent-runtime command policy (ASI05)
kill_switch: switch.db           # agent-sre kill switch store (ASI10)
circuit_breaker:                 # agent-sre CircuitBreaker settings (ASI08)
  failure_threshold: 5
audit: audit.db                  # agent-hypervisor store, or exported JSON lines (ASI10)
audit_head: <hash>               # for JSON lines: the published head the trail must end at
checkpoint: cp.json              # for a store: a signed checkpoint ...
public_key: signer.pem.pub       # ... and the key it must be signed by
not_applicable:                  # risks that do not apply, with the reason (never counted as a pass)
  ASI07: single agent, no inter-agent messages
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent_compliance._probes import RISKS
from agent_compliance._requests import UsageError

__all__ = ["DEFAULT_PROBE_AGENT", "DeploymentConfig", "load_config"]

DEFAULT_PROBE_AGENT = "agt-verify-probe"


class DeploymentConfig(BaseModel):
    """A deployment as `agt verify` sees it; every path is resolved against the config's folder."""

    model_config = ConfigDict(extra="forbid", strict=True)

    policies: list[str] = Field(default_factory=list)
    agent_id: str = DEFAULT_PROBE_AGENT
    command_policy: str | None = None
    kill_switch: str | None = None
    circuit_breaker: dict[str, Any] | None = None
    audit: str | None = None
    audit_head: str | None = None
    checkpoint: str | None = None
    public_key: str | None = None
    not_applicable: dict[str, str] = Field(default_factory=dict)

    @field_validator("policies", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("not_applicable")
    @classmethod
    def _known_risks(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(RISKS))
        if unknown:
            raise ValueError(f"unknown risk id(s) {', '.join(unknown)}; use ASI01 to ASI10")
        empty = sorted(k for k, v in value.items() if not v.strip())
        if empty:
            raise ValueError(f"give the reason {', '.join(empty)} does not apply")
        return value


def load_config(path: str) -> DeploymentConfig:
    """Read and check a deployment file.

    Raises:
        UsageError: with the file (and line, when known) of the problem.
    """
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read config `{path}`: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path
        raise UsageError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UsageError(f"{path}: a config file is a mapping")
    try:
        config = DeploymentConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"{path}: `{field}`: {first['msg']}") from None
    base = Path(path).parent

    def resolve(value: str | None) -> str | None:
        return None if value is None else str(base / value)

    return config.model_copy(
        update={
            "policies": [str(base / p) for p in config.policies],
            "command_policy": resolve(config.command_policy),
            "kill_switch": resolve(config.kill_switch),
            "audit": resolve(config.audit),
            "checkpoint": resolve(config.checkpoint),
            "public_key": resolve(config.public_key),
        }
    )
