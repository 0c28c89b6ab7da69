"""The Rust SDK (sdks/rust) and the engine's C ABI crate (agt-ffi): tests, clippy, rustfmt.

    ./dev -s sdk_rust

`cargo test` in sdks/rust runs every conformance vector file, the attack tests and the README's
examples (doc tests), with and without the `async` feature; in agt-evaluator it runs agt-ffi's
tests (the ABI through its exported functions, a C program linked against libagt.a, and a check
that the committed include/agt.h is what cbindgen generates). Then clippy with `-D warnings` and
`rustfmt --check` for both.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent.parent
SDK = ROOT / "sdks" / "rust"
EVALUATOR = ROOT / "packages" / "agt-evaluator"


@nox.session(python=False, tags=["ci"])
def sdk_rust(session: nox.Session) -> None:
    """Run cargo test, clippy -D warnings and fmt --check for sdks/rust and agt-ffi."""
    if shutil.which("cargo") is None:
        session.error("the Rust SDK needs cargo: install Rust (rustup) first")
    with session.chdir(SDK):
        session.run("cargo", "fmt", "--check", external=True)
        session.run(
            "cargo",
            "clippy",
            "--locked",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
            external=True,
        )
        session.run("cargo", "test", "--locked", "--all-features", external=True)
        session.run("cargo", "test", "--locked", "--test", "govern", external=True)
    with session.chdir(EVALUATOR):
        session.run("cargo", "fmt", "--check", "-p", "agt-ffi", external=True)
        session.run(
            "cargo",
            "clippy",
            "--locked",
            "-p",
            "agt-ffi",
            "--all-targets",
            "--",
            "-D",
            "warnings",
            external=True,
        )
        session.run("cargo", "test", "--locked", "-p", "agt-ffi", external=True, env={"AGT_REQUIRE_CC": "1"})
