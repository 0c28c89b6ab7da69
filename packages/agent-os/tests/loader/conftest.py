from __future__ import annotations

from pathlib import Path

SEED_POLICY = """\
apiVersion: governance.toolkit/v1
name: production-policy
default_action: allow
rules:
- name: block-destructive
  condition: "action.type in ['drop', 'delete', 'truncate']"
  action: deny
- name: require-approval-for-send
  condition: "action.type == 'send_email'"
  action: require_approval
  approvers: ["security-team"]
"""

HEADER = "apiVersion: governance.toolkit/v1\n"


def policy(name: str = "p", body: str = "", *, default_action: str | None = None) -> str:
    """A policy document as YAML text: header, name, optional default_action, then `body`."""
    text = HEADER + f"name: {name}\n"
    if default_action is not None:
        text += f"default_action: {default_action}\n"
    return text + body


def rule(name: str, condition: str = "'true'", action: str = "deny", extra: str = "") -> str:
    """One rule as a YAML list item (the condition is written exactly as given)."""
    return f"- name: {name}\n  condition: {condition}\n  action: {action}\n{extra}"


def rules(*items: str) -> str:
    return "rules:\n" + "".join(items)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def position_of(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the `occurrence`-th `needle` in `text`: the tests' own oracle."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1
