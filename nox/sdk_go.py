"""The Go SDK (sdks/go): cgo over the engine's C ABI (libagt), its tests and the conformance vectors.

`./dev -s sdk_go` builds libagt once with cargo (release, in the agt-evaluator workspace's own
target directory, shared with its other builds), then runs `gofmt`, `go vet` and `go test` (every
conformance vector file, the attack tests, the README's example) and prints the per-file
conformance table. Go comes from the machine (/usr/local/go) or, when absent, from Debian's
`golang-go`; modules from the Go module proxy into Go's own cache.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent.parent
EVALUATOR = ROOT / "packages" / "agt-evaluator"
SDK = ROOT / "sdks" / "go"


def _go(session: nox.Session) -> str:
    found = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if found is None:
        session.run("apt-get", "update", external=True)
        session.run(
            "apt-get",
            "install",
            "-y",
            "--no-install-recommends",
            "golang-go",
            "gcc",
            "libc6-dev",
            external=True,
        )
        found = shutil.which("go")
    if found is None:
        session.error("the Go SDK needs Go 1.19 or newer; install it (apt-get install golang-go)")
    return found


def _build_libagt(session: nox.Session) -> Path:
    """Build the C ABI library (static and shared) once; cargo skips it when nothing changed."""
    if shutil.which("cargo") is None:
        session.error("the SDKs link the engine's C ABI, built with cargo: install Rust (rustup) first")
    with session.chdir(EVALUATOR):
        session.run("cargo", "build", "-p", "agt-ffi", "--release", "--locked", external=True)
    return EVALUATOR / "target" / "release"


@nox.session(python=False, tags=["ci"])
def sdk_go(session: nox.Session) -> None:
    """Build libagt, then gofmt, go vet and go test (conformance vectors, attacks, README example)."""
    go = _go(session)
    _build_libagt(session)
    table = Path(session.create_tmp()).resolve() / "conformance-table.md"
    env = {
        "CGO_ENABLED": "1",
        "AGT_CONFORMANCE_TABLE": str(table),
        "PATH": f"{Path(go).parent}:{os.environ['PATH']}",
    }
    with session.chdir(SDK):
        unformatted = session.run(
            str(Path(go).parent / "gofmt"), "-l", ".", external=True, silent=True, env=env
        )
        if unformatted and unformatted.strip():
            session.error(f"gofmt would change: {unformatted.strip()}")
        session.run(go, "vet", "./...", external=True, env=env)
        session.run(go, "test", "-count=1", *(session.posargs or ["./..."]), external=True, env=env)
    if table.exists():
        session.log("conformance vectors passed per file (Go):\n" + table.read_text())
