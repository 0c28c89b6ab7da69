"""``fuzz``: cargo-fuzz campaigns on the engine's condition compiler and policy loader (not in CI).

    ./dev -s fuzz            # 300 seconds per target
    ./dev -s fuzz -- 60      # 60 seconds per target

Installs cargo-fuzz (from crates.io) when absent and runs each target of
``packages/agt-evaluator/fuzz`` on nightly with its corpus; a crash leaves its input under
``fuzz/artifacts/<target>/`` and fails the session. The bounded version of the same check runs in
``cargo test`` (``tests/parser_fuzz.rs``: arbitrary bytes never panic).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "packages" / "agt-evaluator" / "fuzz"
TARGETS = ("cel_condition", "policy_document")


@nox.session(python=False)
def fuzz(session: nox.Session) -> None:
    """Fuzz the CEL compiler and the policy loader with arbitrary bytes (time-capped)."""
    seconds = int(session.posargs[0]) if session.posargs else 300
    if shutil.which("cargo") is None:
        session.error("cargo is not installed: install Rust (https://rustup.rs) to fuzz the engine")
    if shutil.which("cargo-fuzz") is None:
        session.run("cargo", "install", "cargo-fuzz", "--locked", external=True)
    # cargo-fuzz needs nightly (sanitizer flags): `rustup toolchain install nightly` if this fails
    session.chdir(FUZZ)
    for target in TARGETS:
        corpus = FUZZ / "corpus" / target
        corpus.mkdir(parents=True, exist_ok=True)
        args = ["cargo", "+nightly", "fuzz", "run", target, str(corpus), "--"]
        args += [f"-max_total_time={seconds}", "-max_len=4096", "-timeout=10", "-rss_limit_mb=2048"]
        if target == "cel_condition":
            args.append(f"-dict={FUZZ / 'cel.dict'}")
        session.run(*args, external=True)
