"""The .NET SDK (sdks/dotnet): C# over the engine's C ABI (libagt) with P/Invoke, built with Mono.

Our machines have no .NET SDK (and no NuGet), so `./dev -s sdk_dotnet` builds the same sources the
.csproj files name with Debian's Mono (`mono-devel`, installed when `mcs` is absent): libagt once
with cargo (release, in the agt-evaluator workspace's target directory), the library, the test
runner and the trail tool into the session's temporary folder, then runs the tests (every
conformance vector file and the attack tests; the runner ends with "N passed, N failed") and the
README's example, and prints the per-file conformance table.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent.parent
EVALUATOR = ROOT / "packages" / "agt-evaluator"
SDK = ROOT / "sdks" / "dotnet"
REFERENCES = ["-r:System.Runtime.Serialization.dll"]


def _mono(session: nox.Session) -> None:
    if shutil.which("mcs") is None or shutil.which("mono") is None:
        session.run("apt-get", "update", external=True)
        session.run("apt-get", "install", "-y", "--no-install-recommends", "mono-devel", external=True)


def _sources(folder: Path) -> list[str]:
    return sorted(str(path) for path in folder.glob("*.cs"))


@nox.session(python=False, tags=["ci"])
def sdk_dotnet(session: nox.Session) -> None:
    """Build libagt and the C# sources with Mono; run the conformance vectors, attacks and README example."""
    _mono(session)
    if shutil.which("cargo") is None:
        session.error("the SDKs link the engine's C ABI, built with cargo: install Rust (rustup) first")
    with session.chdir(EVALUATOR):
        session.run("cargo", "build", "-p", "agt-ffi", "--release", "--locked", external=True)
    native = EVALUATOR / "target" / "release"
    out = Path(session.create_tmp()).resolve()
    library = out / "Agt.dll"
    compile_ = ["mcs", "-langversion:7", "-warnaserror", "-nowarn:1591", *REFERENCES]
    session.run(
        *compile_,
        "-target:library",
        f"-out:{library}",
        f"-doc:{out / 'Agt.xml'}",
        *_sources(SDK / "src" / "Agt"),
        external=True,
    )
    session.run(
        *compile_,
        f"-out:{out / 'Agt.Tests.exe'}",
        f"-r:{library}",
        *_sources(SDK / "tests" / "Agt.Tests"),
        external=True,
    )
    session.run(
        *compile_,
        f"-out:{out / 'agt-trail.exe'}",
        f"-r:{library}",
        *_sources(SDK / "tools" / "AgtTrail"),
        external=True,
    )
    table = out / "conformance-table.md"
    env = {
        "LD_LIBRARY_PATH": str(native),
        "AGT_REPO": str(ROOT),
        "AGT_CONFORMANCE_TABLE": str(table),
        "MONO_ENV_OPTIONS": "",
    }
    session.run("mono", str(out / "Agt.Tests.exe"), *session.posargs, external=True, env=env)
    if table.exists():
        session.log("conformance vectors passed per file (.NET):\n" + table.read_text())
    _readme_example(session, out, library, env)


def _readme_example(session: nox.Session, out: Path, library: Path, env: dict[str, str]) -> None:
    """Compile and run the README's example as written, in a folder holding its policy.yaml; compare its output."""
    readme = (SDK / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(\w+)\n(.*?)```", readme, re.DOTALL)
    policy = next(text for kind, text in blocks if kind == "yaml" and text.startswith("# policy.yaml"))
    program = next(text for kind, text in blocks if kind == "csharp" and "static void Main" in text)
    after = [text for kind, text in blocks[blocks.index(("csharp", program)) + 1 :] if kind == "text"]
    if not after:
        session.error("the README's example needs its output in a ```text block after it")
    example = out / "readme"
    example.mkdir(exist_ok=True)
    (example / "policy.yaml").write_text(policy, encoding="utf-8")
    (example / "Example.cs").write_text(program, encoding="utf-8")
    shutil.copy(library, example / "Agt.dll")
    session.run(
        "mcs",
        "-langversion:7",
        f"-out:{example / 'Example.exe'}",
        f"-r:{library}",
        str(example / "Example.cs"),
        external=True,
    )
    with session.chdir(example):
        got = session.run("mono", "Example.exe", external=True, env=env, silent=True)
    if got != after[0]:
        session.error(f"the README's example printed\n{got}\nnot\n{after[0]}")
    session.log("README example: output as shown")
