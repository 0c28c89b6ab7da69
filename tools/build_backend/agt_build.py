"""The PEP 517 build backend of our distributions: hatchling, plus editable installs from a checkout.

None of our distributions is on PyPI, so pip, asked for `pip install -e "packages/agent-os[dev]"`,
looks for `agt-core` on the index and fails. In an *editable* build only, this backend carries a
local dependency that registers no entry points (agt-core, agt-integrations) as source: its
source folder goes on the path through the editable wheel's ``.pth`` file and its own
requirements replace it in the metadata. A local dependency that registers entry points
(agent-os registers the ``python`` evaluator) needs a real installed distribution for them, so it
stays a requirement and goes on the same command line, as in the seed's
``pip install -e "packages/agent-os[dev]" -e "packages/agent-mesh[dev]"``.

Wheels and sdists are hatchling's, unchanged: they name their dependencies normally (install
them with ``--find-links dist``, see ``./dev wheels``). Each distribution reaches this file
through a symbolic link in its ``_build/`` folder (PEP 517's ``backend-path`` must stay inside
the source tree); outside a checkout (an sdist) the editable build is plain hatchling's.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tomllib
import zipfile
from contextlib import suppress
from pathlib import Path

import hatchling.build as _hatchling
from hatchling.build import (
    build_sdist,
    build_wheel,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
)
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
]

_FOLDERS = ("packages", "integrations")

# Hatchling offers the optional metadata hooks only to frontends other than pip (pip then builds
# the wheel to read its metadata); offer exactly what it offers.
if hasattr(_hatchling, "prepare_metadata_for_build_wheel"):
    prepare_metadata_for_build_wheel = _hatchling.prepare_metadata_for_build_wheel
    __all__ += ["prepare_metadata_for_build_wheel"]

if hasattr(_hatchling, "prepare_metadata_for_build_editable"):

    def prepare_metadata_for_build_editable(
        metadata_directory: str, config_settings: dict[str, object] | None = None
    ) -> str:
        """Hatchling's editable metadata, with carried local dependencies replaced by theirs."""
        name: str = _hatchling.prepare_metadata_for_build_editable(metadata_directory, config_settings)
        plan = _plan()
        if plan is not None:
            path = Path(metadata_directory, name, "METADATA")
            path.write_text(_rewrite_metadata(path.read_text("utf-8"), plan), "utf-8")
        return name

    __all__ += ["prepare_metadata_for_build_editable"]


def build_editable(
    wheel_directory: str,
    config_settings: dict[str, object] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """Hatchling's editable wheel, with carried local dependencies on its path and out of its metadata."""
    name: str = _hatchling.build_editable(wheel_directory, config_settings, metadata_directory)
    plan = _plan()
    if plan is not None:
        _rewrite_wheel(Path(wheel_directory, name), plan)
    return name


class _Plan:
    """What an editable build of the distribution in the current folder changes."""

    def __init__(self, carried: dict[str, Path], requirements: list[str]) -> None:
        self.carried = carried  # canonical name -> source folder to put on the path
        self.requirements = requirements  # what the carried ones need, in their stead


def _plan() -> _Plan | None:
    here = Path.cwd().resolve()
    root = here.parent.parent
    if here.parent.name not in _FOLDERS or not (root / "packages" / "agt-core").is_dir():
        return None  # not in a checkout of the monorepo (an sdist): plain hatchling
    local = _local_distributions(root)
    carried: dict[str, Path] = {}
    requirements: list[str] = []
    for requirement in _dependencies(here):
        _carry(Requirement(requirement), local, carried, requirements)
    return _Plan(carried, requirements) if carried else None


def _local_distributions(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in _FOLDERS:
        for pyproject in sorted((root / folder).glob("*/pyproject.toml")):
            with suppress(OSError, tomllib.TOMLDecodeError, KeyError):
                found[canonicalize_name(_read(pyproject.parent)["project"]["name"])] = pyproject.parent
    return found


def _read(folder: Path) -> dict[str, object]:
    with (folder / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def _dependencies(folder: Path) -> list[str]:
    project = _read(folder).get("project", {})
    assert isinstance(project, dict)
    return [str(item) for item in project.get("dependencies", [])]


def _carriable(folder: Path) -> bool:
    """A distribution without entry points works from its source folder alone."""
    data = _read(folder)
    project = data.get("project", {})
    assert isinstance(project, dict)
    build = data.get("build-system", {})
    assert isinstance(build, dict)
    hatchling = "hatchling" in str(build.get("build-backend", "")) or "agt_build" in str(
        build.get("build-backend", "")
    )
    return hatchling and not project.get("entry-points") and not project.get("scripts")


def _carry(
    requirement: Requirement, local: dict[str, Path], carried: dict[str, Path], out: list[str]
) -> None:
    name = canonicalize_name(requirement.name)
    folder = local.get(name)
    if folder is None or requirement.marker is not None or requirement.url or not _carriable(folder):
        if str(requirement) not in out:
            out.append(str(requirement))
        return
    if name in carried:
        return
    carried[name] = _source_folder(folder)
    for inner in _dependencies(folder):
        _carry(Requirement(inner), local, carried, out)


def _source_folder(folder: Path) -> Path:
    """The folder holding the distribution's import packages (``src`` in our layout)."""
    wheel = _read(folder).get("tool", {})
    assert isinstance(wheel, dict)
    packages = wheel.get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {}).get("packages", [])
    first = Path(packages[0]).parent if packages else Path("src")
    return (folder / first).resolve()


def _rewrite_metadata(text: str, plan: _Plan) -> str:
    """Drop `Requires-Dist` lines of carried distributions; add what those need (once)."""
    head, sep, body = text.partition("\n\n")
    lines = head.split("\n")
    kept: list[str] = []
    present: set[str] = set()
    last_requires = -1
    for line in lines:
        if line.startswith("Requires-Dist: "):
            requirement = Requirement(line.removeprefix("Requires-Dist: "))
            if requirement.marker is None and canonicalize_name(requirement.name) in plan.carried:
                last_requires = len(kept) - 1
                continue
            present.add(str(requirement))
            last_requires = len(kept)
        kept.append(line)
    extra = [f"Requires-Dist: {r}" for r in plan.requirements if r not in present]
    at = last_requires + 1 if last_requires >= 0 else len(kept)
    kept[at:at] = extra
    return "\n".join(kept) + sep + body


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"{name},sha256={digest},{len(data)}"


def _rewrite_wheel(wheel: Path, plan: _Plan) -> None:
    with zipfile.ZipFile(wheel) as source:
        entries = [(info, source.read(info)) for info in source.infolist()]
    extra_paths = "".join(f"{path}\n" for path in plan.carried.values()).encode("utf-8")
    changed: dict[str, bytes] = {}
    record_name = ""
    for info, data in entries:
        if info.filename.endswith(".dist-info/METADATA"):
            changed[info.filename] = _rewrite_metadata(data.decode("utf-8"), plan).encode("utf-8")
        elif info.filename.endswith(".pth") and "/" not in info.filename:
            text = data if data.endswith(b"\n") or not data else data + b"\n"
            changed[info.filename] = text + extra_paths
        elif info.filename.endswith(".dist-info/RECORD"):
            record_name = info.filename
    if not any(name.endswith(".pth") for name in changed):
        # No .pth in the wheel (an exact-mode editable): add our own.
        pth = f"_agt_carried_{wheel.name.split('-')[0]}.pth"
        changed[pth] = extra_paths
        entries.append((zipfile.ZipInfo(pth), b""))
    records: list[str] = []
    temporary = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as target:
        for info, original in entries:
            if info.filename == record_name:
                continue
            data = changed.get(info.filename, original)
            target.writestr(info, data)
            records.append(_record_line(info.filename, data))
        records.append(f"{record_name},,")
        target.writestr(record_name, "\n".join(records) + "\n")
    os.replace(temporary, wheel)
