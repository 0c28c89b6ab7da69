"""Positions of policies and rules inside policy files, for findings that point at a line.

The agent-os loader is the judge of what a policy means; this only maps names back to lines
(PyYAML's composer keeps node positions), so a lint can say where a rule is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PolicyPositions", "Position", "policy_positions"]


@dataclass(frozen=True)
class Position:
    """A 1-based line and column."""

    line: int
    column: int


@dataclass
class PolicyPositions:
    """Where a policy's parts are written."""

    start: Position
    keys: dict[str, Position] = field(default_factory=dict)
    rules: dict[str, Position] = field(default_factory=dict)
    conditions: dict[str, Position] = field(default_factory=dict)
    condition_styles: dict[str, str | None] = field(default_factory=dict)


def _pos(mark: Any) -> Position:
    return Position(mark.line + 1, mark.column + 1)


def policy_positions(path: str) -> dict[str, PolicyPositions]:
    """Policy name -> positions, for every YAML document in `path` (empty when it cannot be read)."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    found: dict[str, PolicyPositions] = {}
    for node in documents:
        if not isinstance(node, yaml.MappingNode):
            continue
        top = {k.value: (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        name_entry = top.get("name")
        if name_entry is None or not isinstance(name_entry[1], yaml.ScalarNode):
            continue
        positions = PolicyPositions(start=_pos(node.start_mark))
        positions.keys = {key: _pos(k.start_mark) for key, (k, _) in top.items()}
        rules = top.get("rules")
        if rules is not None and isinstance(rules[1], yaml.SequenceNode):
            for item in rules[1].value:
                if not isinstance(item, yaml.MappingNode):
                    continue
                fields = {k.value: v for k, v in item.value if isinstance(k, yaml.ScalarNode)}
                rule_name = fields.get("name")
                if not isinstance(rule_name, yaml.ScalarNode):
                    continue
                positions.rules[rule_name.value] = _pos(item.start_mark)
                condition = fields.get("condition")
                if isinstance(condition, yaml.ScalarNode):
                    positions.conditions[rule_name.value] = _pos(condition.start_mark)
                    positions.condition_styles[rule_name.value] = condition.style
        found[name_entry[1].value] = positions
    return found
