"""Rebuild the published JSON Schemas in ``agt_core/schemas/`` from the models.

    python packages/agt-core/tests/regenerate_schemas.py          # rewrite the files
    python packages/agt-core/tests/regenerate_schemas.py --check  # exit 1 if they drift

``test_core_schemas.py`` runs the same comparison, so a model change without regenerated schemas
fails the test suite.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Literal

import agt_core

Kind = Literal["policy", "request", "decision", "audit-record"]
KINDS: tuple[Kind, ...] = ("policy", "request", "decision", "audit-record")
SCHEMA_DIR = Path(agt_core.__file__).parent / "schemas"


def render(kind: Kind) -> str:
    """The published text of one schema: sorted keys, two-space indent, trailing newline."""
    return json.dumps(agt_core.json_schema(kind), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def path_of(kind: Kind) -> Path:
    return SCHEMA_DIR / f"{kind}.schema.json"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for kind in KINDS:
        text = render(kind)
        path = path_of(kind)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not check:
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if check else 'wrote'}: {path}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
