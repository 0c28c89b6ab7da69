"""Instructions per governed call, counted by callgrind (repeatable on a loaded machine).

Run twice with different call counts and take the difference, so start-up cancels out::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/callgrind_governed_call.py off 1000
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/callgrind_governed_call.py off 6000
    # instructions per call = (second "Collected" total - first) / 5000

`off`/`on` turns the audit log off or on; the seed policy and a two-argument tool, as in bench/run.py.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from agent_os import AuditLog
from agentmesh.governance import govern

SEED = Path(__file__).resolve().parent.parent / "conformance" / "seed-policy.yaml"


def noop_tool(action: str, table: str) -> str:
    return "ok"


def main() -> None:
    mode, calls = sys.argv[1], int(sys.argv[2])
    with tempfile.TemporaryDirectory() as folder:
        policy = Path(folder) / "policy.yaml"
        policy.write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
        safe = govern(
            noop_tool, policy=str(policy), audit=AuditLog() if mode == "on" else False, agent_id="bench"
        )
        for _ in range(calls):
            safe(action="read", table="users")


if __name__ == "__main__":
    main()
