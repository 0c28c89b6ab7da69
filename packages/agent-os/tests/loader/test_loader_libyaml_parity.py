"""The libyaml fast path reads every policy exactly as the pure-Python reader does.

Parsing is done twice per example: through `parse_yaml` as shipped (libyaml when it agrees) and
with the fast path switched off. Data, positions and document order must be identical.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_os import PolicyError
from agent_os._loading import _yaml as _yaml_source

pytestmark = pytest.mark.skipif(_yaml_source._FastLoader is None, reason="PyYAML built without libyaml")

texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\t\ufeff"),
    max_size=20,
)


def _quote(value: str, style: str) -> str:
    if style == "single":
        return "'" + value.replace("'", "''") + "'"
    if style == "double":
        return (
            '"'
            + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
            + '"'
        )
    return "|\n    " + value.replace("\n", " ").replace("\r", " ") + "\n"


@st.composite
def policies(draw: st.DrawFn) -> str:
    lines = ["apiVersion: governance.toolkit/v1", "name: p", "default_action: allow", "rules:"]
    for i in range(draw(st.integers(0, 4))):
        style = draw(st.sampled_from(["single", "double", "block"]))
        lines.append(f"- name: r{i}")
        lines.append(f"  condition: {_quote(draw(texts), style)}".rstrip("\n"))
        lines.append(f"  action: {draw(st.sampled_from(['deny', 'allow', 'warn']))}")
        if draw(st.booleans()):
            lines.append(f"  priority: {draw(st.integers(-5, 5))}")
        if draw(st.booleans()):
            lines.append(f"  message: {_quote(draw(texts), draw(st.sampled_from(['single', 'double'])))}")
    return "\n".join(lines) + "\n"


def _snapshot(text: str) -> Any:
    out = []
    try:
        documents = _yaml_source.parse_yaml(text, file="p.yaml")
    except PolicyError as exc:
        return ("error", str(exc), exc.line, exc.column)
    for doc in documents:
        smap = doc.source_map
        nodes = {
            path: (n.start_mark.line, n.start_mark.column, n.end_mark.index)
            for path, n in smap._nodes.items()
        }
        keys = {path: (n.start_mark.line, n.start_mark.column) for path, n in smap._keys.items()}
        out.append((doc.data, doc.index, nodes, keys))
    return out


@settings(max_examples=200, deadline=None)
@given(text=policies())
def test_fast_and_pure_readers_agree(text: str) -> None:
    fast_loader = _yaml_source._FastLoader
    fast = _snapshot(text)
    _yaml_source._FastLoader = None
    try:
        pure = _snapshot(text)
    finally:
        _yaml_source._FastLoader = fast_loader
    assert fast == pure


def test_an_ordinary_policy_takes_the_fast_path() -> None:
    fast_loader = _yaml_source._FastLoader
    assert fast_loader is not None
    used: list[str] = []

    def counting(text: str) -> Any:
        used.append(text)
        return fast_loader(text)

    _yaml_source._FastLoader = counting
    try:
        _yaml_source.parse_yaml(
            "apiVersion: governance.toolkit/v1\nname: p\nrules:\n- name: r\n  condition: \"x == 'a'\"\n  action: deny\n",
            file=None,
        )
    finally:
        _yaml_source._FastLoader = fast_loader
    assert len(used) == 1
