"""Tool pins: first sight pins, a change waits for approval, and the file survives restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_os.mcp import ToolPins, definition_hash

A = {"name": "t", "description": "one", "inputSchema": {"type": "object"}}
B = {**A, "description": "two"}


def test_pin_change_approve_and_revert(tmp_path: Path) -> None:
    pins = ToolPins(tmp_path / "pins.json")
    a, b = definition_hash(A), definition_hash(B)
    assert pins.check("s", "t", a) == "new"
    assert pins.check("s", "t", a) == "match"
    assert pins.check("s", "t", b) == "changed"
    assert (pins.pinned("s", "t"), pins.pending("s", "t")) == (a, b)
    reloaded = ToolPins(tmp_path / "pins.json")
    assert reloaded.check("s", "t", b) == "changed"
    with pytest.raises(KeyError):
        reloaded.approve("s", "t", a)
    assert reloaded.approve("s", "t", b) == a
    assert ToolPins(tmp_path / "pins.json").check("s", "t", b) == "match"
    # A server that goes back to the approved definition clears the pending one.
    assert pins.check("s", "t", a) == "match" and pins.pending("s", "t") is None
    assert pins.servers() == ("s",) and pins.tools("s") == ("t",)


def test_the_hash_covers_what_the_model_sees() -> None:
    assert definition_hash(A) != definition_hash(B)
    assert definition_hash(A) != definition_hash({**A, "inputSchema": {"type": "object", "properties": {}}})
    assert definition_hash(A) != definition_hash({**A, "annotations": {"destructiveHint": True}})
    assert definition_hash(A) == definition_hash({**A, "_meta": {"x": 1}, "icons": []})
    assert definition_hash(A) == definition_hash(dict(reversed(list(A.items()))))


def test_a_corrupt_pin_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pins.json"
    path.write_text('{"servers": {"s": {"t": {"hash": 5}}}}', encoding="utf-8")
    with pytest.raises(ValueError, match="bad entry"):
        ToolPins(path)
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(ValueError, match="servers"):
        ToolPins(path)
