"""The cross-language audit test (sdks/cross): every SDK's trail tool writes, every other verifies.

    ./dev -s sdk_cross                    # all trail tools whose toolchain is on the machine
    ./dev -s sdk_cross -- -k "rust or go" # pytest arguments pass through

Python (agent-os) and Rust always run; Go and .NET when `go` and Mono are installed (their own
sessions, sdk_go and sdk_dotnet, install them), TypeScript when its WebAssembly build exists
(sdk_typescript makes it). libagt is built once with cargo in agt-evaluator's target folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent.parent


@nox.session(python="3.11", tags=["ci", "ci-last"])
def sdk_cross(session: nox.Session) -> None:
    """Write an audit trail with each SDK and verify it with every other; tampered copies must fail."""
    if shutil.which("cargo") is None:
        session.error("the Rust SDK and libagt are built with cargo: install Rust (rustup) first")
    session.install(
        "-e", str(ROOT / "packages" / "agt-core"), "-e", str(ROOT / "packages" / "agent-os"), "pytest>=8"
    )
    session.run("pytest", str(ROOT / "sdks" / "cross"), "-p", "no:cacheprovider", "-rs", *session.posargs)
