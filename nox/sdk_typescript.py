"""The TypeScript SDK (sdks/typescript): the engine compiled to WebAssembly, the npm package, its tests.

`./dev -s sdk_typescript` installs what is missing (Node 20+ from apt, the wasm32 Rust target,
wasm-bindgen-cli at the version the crate pins, into ~/.cargo/bin), builds the wasm crate
(release, size-tuned) with its target directory under ~/.cache/agt, generates the Node bindings,
runs `npm ci` and `tsc` (the package, then a type check of its public API), then every test on
Node's own runner (the conformance vectors included).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import nox

ROOT = Path(__file__).parent.parent
SDK = ROOT / "sdks" / "typescript"
CRATE = SDK / "wasm"
CACHE = Path.home() / ".cache" / "agt" / "sdk-typescript"
TARGET = "wasm32-unknown-unknown"


def _pinned_wasm_bindgen() -> str:
    """The exact wasm-bindgen version the crate pins: the CLI must match it."""
    match = re.search(r'^wasm-bindgen = "=([0-9.]+)"', (CRATE / "Cargo.toml").read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError("sdks/typescript/wasm/Cargo.toml must pin wasm-bindgen exactly (`=x.y.z`)")
    return match.group(1)


def _output(*command: str) -> str:
    try:
        # fixed tool names and flags, never user input
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603
    except FileNotFoundError:
        return ""


def _ensure_node(session: nox.Session) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        session.run("apt-get", "update", external=True)
        session.run("apt-get", "install", "-y", "--no-install-recommends", "nodejs", "npm", external=True)
    version = _output("node", "--version")
    major = int(version.lstrip("v").split(".")[0] or 0)
    if major < 20:
        session.error(f"the TypeScript SDK needs Node 20 or newer, found {version or 'none'}")


def _ensure_rust(session: nox.Session) -> Path:
    if shutil.which("cargo") is None:
        session.error("the TypeScript SDK builds its engine with cargo; install Rust (rustup) first")
    if TARGET not in _output("rustup", "target", "list", "--installed").split():
        session.run("rustup", "target", "add", TARGET, external=True)
    version = _pinned_wasm_bindgen()
    cli = Path.home() / ".cargo" / "bin" / "wasm-bindgen"
    if _output(str(cli), "--version") != f"wasm-bindgen {version}":
        session.log(f"installing wasm-bindgen-cli {version} (once; several minutes)")
        session.run(
            "cargo", "install", "--locked", "--force", "wasm-bindgen-cli", "--version", version, external=True
        )
    return cli


@nox.session(python=False, tags=["ci"])
def sdk_typescript(session: nox.Session) -> None:
    """Build the wasm engine and the npm package; run the conformance vectors and the SDK's tests."""
    _ensure_node(session)
    cli = _ensure_rust(session)
    env = {"CARGO_TARGET_DIR": str(CACHE / "target")}
    with session.chdir(CRATE):
        session.run("cargo", "fmt", "--check", external=True)
        # Not --locked: the engine crate is path-dependent and its owners add dependencies; the
        # lock file follows them (wasm-bindgen itself is pinned exactly in Cargo.toml).
        session.run(
            "cargo", "clippy", "--release", "--target", TARGET, "--", "-D", "warnings", external=True, env=env
        )
        session.run("cargo", "build", "--release", "--target", TARGET, external=True, env=env)
    wasm = CACHE / "target" / TARGET / "release" / "agt_wasm.wasm"
    shutil.rmtree(SDK / "pkg", ignore_errors=True)
    session.run(str(cli), "--target", "nodejs", "--out-dir", str(SDK / "pkg"), str(wasm), external=True)
    size = (SDK / "pkg" / "agt_wasm_bg.wasm").stat().st_size
    session.log(f"engine module: {size / 1024:.0f} KiB")
    with session.chdir(SDK):
        session.run("npm", "ci", "--no-audit", "--no-fund", external=True)
        shutil.rmtree(SDK / "dist", ignore_errors=True)
        session.run("node", "node_modules/typescript/bin/tsc", "-p", "tsconfig.json", external=True)
        # the public types: test/types.check.ts compiles, and its @ts-expect-error lines do fail
        session.run("node", "node_modules/typescript/bin/tsc", "-p", "test/tsconfig.json", external=True)
        tests = sorted(str(p.relative_to(SDK)) for p in (SDK / "test").glob("*.test.js"))
        session.run("node", "--test", *tests, *session.posargs, external=True, env={"NODE_OPTIONS": ""})
