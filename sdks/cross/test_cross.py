"""Cross-language audit test: a trail written by one SDK verifies in every other.

A tampered, truncated or reordered copy is refused by every verifier.

Each SDK ships a trail tool with two commands (see docs/sdks.md):

    TOOL write POLICY.yaml OUT.jsonl CALLS.json   -> prints {"head": "<hash>", "count": N}
    TOOL verify TRAIL.jsonl --head H --count N    -> exit 0 when it verifies, 1 otherwise

`TOOLS` lists them; each is built once per run. A tool whose toolchain is absent on the machine is
skipped with the reason (the nox session `sdk_cross` installs what it can); a tool that is present
but fails to build or run fails the test. Run with ``./dev -s sdk_cross``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVALUATOR = ROOT / "packages" / "agt-evaluator"
POLICY = ROOT / "conformance" / "seed-policy.yaml"
CALLS = ROOT / "conformance" / "audit" / "cross_calls.json"
LIBAGT = EVALUATOR / "target" / "release"


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    # the commands are this test's own build and trail-tool invocations, never outside input
    return subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=900, check=False, **kwargs
    )  # type: ignore[call-overload, no-any-return]


def _must(command: list[str], **kwargs: object) -> str:
    done = _run(command, **kwargs)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _libagt() -> dict[str, str]:
    """The engine's C ABI (release), which the Go and .NET trail tools link."""
    _must(["cargo", "build", "-p", "agt-ffi", "--release", "--locked"], cwd=EVALUATOR)
    return {**os.environ, "LD_LIBRARY_PATH": str(LIBAGT)}


@dataclass
class Tool:
    """One SDK's trail tool: how to build it (returning the command prefix and environment)."""

    name: str
    needs: tuple[str, ...]
    build: Callable[[Path], tuple[list[str], dict[str, str] | None]]


def _python(_: Path) -> tuple[list[str], dict[str, str] | None]:
    return [sys.executable, str(ROOT / "sdks" / "cross" / "python_trail.py")], None


def _rust(_: Path) -> tuple[list[str], dict[str, str] | None]:
    manifest = ROOT / "sdks" / "rust" / "Cargo.toml"
    _must(["cargo", "build", "--quiet", "--manifest-path", str(manifest), "--bin", "agt-trail"])
    return [str(ROOT / "sdks" / "rust" / "target" / "debug" / "agt-trail")], None


def _go(out: Path) -> tuple[list[str], dict[str, str] | None]:
    env = _libagt()
    binary = out / "agt-trail-go"
    _must(
        ["go", "build", "-o", str(binary), "./cmd/agt-trail"],
        cwd=ROOT / "sdks" / "go",
        env={**env, "CGO_ENABLED": "1"},
    )
    return [str(binary)], env


def _dotnet(out: Path) -> tuple[list[str], dict[str, str] | None]:
    env = _libagt()
    sdk = ROOT / "sdks" / "dotnet"
    compile_ = ["mcs", "-langversion:7", "-nowarn:1591", "-r:System.Runtime.Serialization.dll"]
    library = out / "Agt.dll"
    _must(
        [
            *compile_,
            "-target:library",
            f"-out:{library}",
            *sorted(map(str, (sdk / "src" / "Agt").glob("*.cs"))),
        ]
    )
    exe = out / "agt-trail.exe"
    _must(
        [
            *compile_,
            f"-out:{exe}",
            f"-r:{library}",
            *sorted(map(str, (sdk / "tools" / "AgtTrail").glob("*.cs"))),
        ]
    )
    return ["mono", str(exe)], {**env, "MONO_ENV_OPTIONS": ""}


def _typescript(_: Path) -> tuple[list[str], dict[str, str] | None]:
    sdk = ROOT / "sdks" / "typescript"
    trail = sdk / "dist" / "trail.js"
    if not trail.exists() or not (sdk / "pkg").exists():
        pytest.skip("the TypeScript SDK is not built (its WebAssembly build is `./dev -s sdk_typescript`)")
    return ["node", str(trail)], None


TOOLS = [
    Tool("python", (), _python),
    Tool("rust", ("cargo",), _rust),
    Tool("go", ("go", "cargo", "cc"), _go),
    Tool("dotnet", ("mcs", "mono", "cargo"), _dotnet),
    Tool("typescript", ("node",), _typescript),
]
NAMES = [tool.name for tool in TOOLS]


@dataclass
class Trail:
    """A trail one tool wrote: where it is and the head and count it printed."""

    tool: Tool
    command: list[str]
    env: dict[str, str] | None
    path: Path
    head: str
    count: int

    def write_args(self, out: Path) -> list[str]:
        """The tool's `write` command line (TypeScript takes the calls file as an option)."""
        if self.tool.name == "typescript":
            return [*self.command, "write", str(POLICY), str(out), "--calls", str(CALLS)]
        return [*self.command, "write", str(POLICY), str(out), str(CALLS)]


_BUILT: dict[str, Trail] = {}


@pytest.fixture(scope="session")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for every tool's build and trail in this run."""
    return tmp_path_factory.mktemp("trails")


def _trail(name: str, out: Path) -> Trail:
    """Build the tool and write its trail (once per run)."""
    if name in _BUILT:
        return _BUILT[name]
    tool = next(t for t in TOOLS if t.name == name)
    missing = [need for need in tool.needs if shutil.which(need) is None]
    if missing:
        pytest.skip(f"{name}: {', '.join(missing)} not installed")
    command, env = tool.build(out)
    trail = Trail(tool, command, env, out / f"{name}.jsonl", "", 0)
    printed = _must(trail.write_args(trail.path), env=env)
    summary = json.loads(printed.strip().splitlines()[-1])
    trail.head, trail.count = summary["head"], summary["count"]
    _BUILT[name] = trail
    return trail


def _verify(verifier: Trail, path: Path, head: str, count: int) -> subprocess.CompletedProcess[str]:
    return _run(
        [*verifier.command, "verify", str(path), "--head", head, "--count", str(count)], env=verifier.env
    )


def test_vectors_are_current(tmp_path: Path) -> None:
    """conformance/audit/chain.json is what agt-core computes today."""
    fresh = tmp_path / "chain.json"
    _must([sys.executable, str(ROOT / "conformance" / "audit" / "generate.py"), str(fresh)])
    committed = (ROOT / "conformance" / "audit" / "chain.json").read_text(encoding="ascii")
    assert fresh.read_text(encoding="ascii") == committed, (
        "run conformance/audit/generate.py and commit chain.json"
    )


@pytest.mark.parametrize("name", NAMES)
def test_trail_records_every_call_with_the_expected_effect(name: str, out_dir: Path) -> None:
    """Each SDK records one record per call, with the same effect as every other SDK."""
    trail = _trail(name, out_dir)
    calls = json.loads(CALLS.read_text(encoding="utf-8"))["calls"]
    lines = trail.path.read_text(encoding="utf-8").splitlines()
    assert trail.count == len(calls) == len(lines)
    assert json.loads(lines[-1])["hash"] == trail.head
    effects = [json.loads(line)["decision"]["effect"] for line in lines]
    assert effects == [call["expect"] for call in calls]


@pytest.mark.parametrize("verifier", NAMES)
@pytest.mark.parametrize("writer", NAMES)
def test_every_trail_verifies_everywhere(writer: str, verifier: str, out_dir: Path) -> None:
    """A trail written by `writer` verifies with `verifier` against the head and count it printed."""
    written, checker = _trail(writer, out_dir), _trail(verifier, out_dir)
    done = _verify(checker, written.path, written.head, written.count)
    assert done.returncode == 0, f"{verifier} refused {writer}'s trail:\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("verifier", NAMES)
@pytest.mark.parametrize("writer", NAMES)
def test_tampered_and_truncated_copies_are_refused(
    writer: str, verifier: str, out_dir: Path, tmp_path: Path
) -> None:
    """Every verifier refuses an edited, truncated or reordered copy of every trail."""
    written, checker = _trail(writer, out_dir), _trail(verifier, out_dir)
    lines = written.path.read_text(encoding="utf-8").splitlines()
    # the drop the policy denied, rewritten as allowed
    tampered = tmp_path / "tampered.jsonl"
    edited = (
        lines[1].replace('"effect":"deny"', '"effect":"allow"').replace('"allowed":false', '"allowed":true')
    )
    assert edited != lines[1]
    tampered.write_text("\n".join([lines[0], edited, *lines[2:]]) + "\n", encoding="utf-8")
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    reordered = tmp_path / "reordered.jsonl"
    reordered.write_text("\n".join([lines[1], lines[0], *lines[2:]]) + "\n", encoding="utf-8")
    for copy in (tampered, truncated, reordered):
        done = _verify(checker, copy, written.head, written.count)
        assert done.returncode == 1, (
            f"{verifier} accepted {writer}'s {copy.stem} trail:\n{done.stdout}\n{done.stderr}"
        )
        assert (done.stdout + done.stderr).strip(), f"{verifier} refused without saying why"
    # a genuine prefix is refused against the published count and head alone, too
    done = _verify(checker, truncated, written.head, written.count - 1)
    assert done.returncode == 1
