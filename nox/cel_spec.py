"""``cel_spec``: the CEL project's conformance suite against both evaluators' CEL (tagged ci).

    ./dev -s cel_spec              # compare with conformance/cel-spec/results.json
    ./dev -s cel_spec -- --write   # regenerate results.json and RESULTS.md after a deliberate change

Fetches the pinned ``@bufbuild/cel-spec`` npm package (the cel-spec repository's
``tests/simple/testdata``, converted to JSON by Buf) into ``~/.cache/agt/cel-spec/<version>/``
with ``npm pack``, checks its sha512 against the registry's published integrity, extracts the
suite with node, and runs ``conformance/cel-spec/run.py``: the Python evaluator's CEL in this
session's environment, the engine's CEL through ``cargo test --test cel_spec``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent.parent
VERSION = "0.6.1"
INTEGRITY = "sha512-m0Ac9qA669yxxC0Hy45qGsUZemjImVfxPl6r9jLbkJviEvv3R9hSYyH2ItGRbDguekX6eId0cb62ulNBK97ezg=="
CACHE = Path.home() / ".cache" / "agt" / "cel-spec" / VERSION

_EXTRACT = """
import { tests } from %s;
import { writeFileSync } from "node:fs";
writeFileSync(%s, JSON.stringify(tests));
"""


def _suite(session: nox.Session) -> Path:
    suite = CACHE / "conformance.json"
    if suite.exists():
        return suite
    for tool in ("npm", "node"):
        if shutil.which(tool) is None:
            session.run("apt-get", "install", "-y", "--no-install-recommends", "nodejs", "npm", external=True)
            break
    CACHE.mkdir(parents=True, exist_ok=True)
    session.run(
        "npm", "pack", f"@bufbuild/cel-spec@{VERSION}", "--pack-destination", str(CACHE), external=True
    )
    tarball = CACHE / f"bufbuild-cel-spec-{VERSION}.tgz"
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if digest != INTEGRITY:
        tarball.unlink()
        session.error(f"@bufbuild/cel-spec@{VERSION} does not match its pinned integrity ({digest})")
    with tarfile.open(tarball) as archive:
        archive.extractall(CACHE, filter="data")
    module = CACHE / "package" / "dist" / "esm" / "testdata" / "conformance.js"
    script = _EXTRACT % (json.dumps(module.as_uri()), json.dumps(str(suite)))
    session.run("node", "--input-type=module", "-e", script, external=True)
    return suite


@nox.session(tags=["ci"])
def cel_spec(session: nox.Session) -> None:
    """Run cel-spec's conformance tests through the Python and the native CEL; fail on any change."""
    if shutil.which("cargo") is None:
        session.error("cargo is not installed: install Rust (https://rustup.rs) to run the engine's half")
    suite = _suite(session)
    session.install("-e", str(ROOT / "packages" / "agt-core"), "-e", str(ROOT / "packages" / "agent-os"))
    session.run(
        "python",
        str(ROOT / "conformance" / "cel-spec" / "run.py"),
        str(suite),
        "--version",
        VERSION,
        *session.posargs,
    )
