"""integrations/README.md's adapter table agrees with every adapter's pyproject, source and README."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

INTEGRATIONS = Path(__file__).resolve().parents[2]
README = INTEGRATIONS / "README.md"
SHARED = {"agent-os", "agt-core", "agt-integrations"}
COLUMNS = [
    "adapter",
    "framework",
    "tested with",
    "supported",
    "hook used",
    "not covered",
    "adapter code",
    "install",
]


def _adapters() -> dict[str, Path]:
    found = {}
    for pyproject in sorted(INTEGRATIONS.glob("*/pyproject.toml")):
        name = tomllib.loads(pyproject.read_text())["project"]["name"]
        if name != "agt-integrations":
            found[name] = pyproject.parent
    return found


def _rows() -> dict[str, dict[str, str]]:
    lines = README.read_text(encoding="utf-8").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| adapter |"))
    assert [c.strip() for c in lines[header].strip("|").split("|")] == COLUMNS
    rows = {}
    for line in lines[header + 2 :]:
        if not line.startswith("|"):
            break
        cells = dict(zip(COLUMNS, (c.strip() for c in line.strip().strip("|").split(" | ")), strict=True))
        match = re.fullmatch(r"\[(agt-[a-z0-9-]+)\]\(([a-z0-9-]+)\)", cells["adapter"])
        assert match, cells["adapter"]
        cells["folder"] = match.group(2)
        rows[match.group(1)] = cells
    return rows


def _framework(folder: Path) -> Requirement:
    """The framework: the adapter's first dependency that is not one of ours."""
    project: dict[str, Any] = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    external = [Requirement(r) for r in project["dependencies"]]
    external = [r for r in external if r.name not in SHARED and not r.name.startswith("agt-")]
    assert external, f"{folder.name}: no framework dependency"
    return external[0]


def test_every_adapter_has_exactly_one_row() -> None:
    assert sorted(_rows()) == sorted(_adapters())


@pytest.mark.parametrize("name", sorted(_adapters()))
def test_row_matches_the_adapter(name: str) -> None:
    row, folder = _rows()[name], _adapters()[name]
    framework = _framework(folder)
    assert row["folder"] == folder.name
    assert row["framework"] == framework.name
    assert SpecifierSet(row["supported"].strip("`")) == framework.specifier
    assert Version(row["tested with"]) in framework.specifier
    assert row["install"] == f"`pip install ./integrations/{folder.name}`"
    assert re.fullmatch(r"\d+(–\d+)? µs", row["adapter code"]), row["adapter code"]
    assert row["not covered"]


@pytest.mark.parametrize("name", sorted(_adapters()))
def test_named_hooks_exist_in_the_adapter_source(name: str) -> None:
    row, folder = _rows()[name], _adapters()[name]
    source = "\n".join(p.read_text() for p in (folder / "src").rglob("*.py"))
    for code in re.findall(r"`([^`]+)`", row["hook used"]):
        outside_calls = re.sub(r"\([^)]*\)", "", code)
        for part in outside_calls.split("."):
            word = rf"\b{re.escape(part.strip())}\b"
            assert re.search(word, source), f"{name}: `{part}` (from `{code}`) is not in its source"


@pytest.mark.parametrize("name", sorted(_adapters()))
def test_adapter_readme_states_the_tested_version(name: str) -> None:
    row, folder = _rows()[name], _adapters()[name]
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert text.startswith(f"# {name}\n")
    assert f"Tested with {row['framework']} {row['tested with']}" in text
    stated = re.findall(rf"`({re.escape(row['framework'])}[<>=!~][^`]*)`", text)
    assert [Requirement(s) for s in stated][:1] == [_framework(folder)], stated
    assert f"./integrations/{folder.name}" in text
