"""The Python trail tool for the cross-language audit test: agent-os's govern() and agt-core's verify.

python python_trail.py write POLICY OUT.jsonl [CALLS.json]
    runs the calls in CALLS.json (default: conformance/audit/cross_calls.json, {tool, args,
    agent} each) through agent_os.govern with one in-memory AuditLog, writes the trail as JSON
    lines and prints {"head": "<hash>", "count": N}
python python_trail.py verify TRAIL.jsonl --head H --count N
    exits 0 when the trail verifies against that head and count, 1 with the reason otherwise
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from agt_core import AuditIntegrityError, verify_audit_lines

DEFAULT_CALLS = Path(__file__).resolve().parents[2] / "conformance" / "audit" / "cross_calls.json"


def _calls(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    calls = data["calls"] if isinstance(data, dict) else data
    if not isinstance(calls, list):
        raise SystemExit(f"{path}: expected a list of {{tool, args, agent}}")
    return calls


def _agent_id(agent: object) -> str:
    if isinstance(agent, str):
        return agent
    if isinstance(agent, dict) and isinstance(agent.get("id"), str):
        return agent["id"]
    return "default"


def write(policy: str, out: str, calls_path: Path) -> int:
    """Run the calls through govern() with one AuditLog; write the trail; print its head and count."""
    from agent_os import AuditLog, GovernanceDenied, govern  # only `write` needs the kernel

    log = AuditLog()
    tools: dict[tuple[str, str], Any] = {}
    for call in _calls(calls_path):
        tool, agent = call["tool"], _agent_id(call.get("agent"))
        governed = tools.get((tool, agent))
        if governed is None:

            def run(**kwargs: Any) -> str:
                return "ran"

            governed = govern(run, policy=policy, tool_name=tool, agent_id=agent, audit=log)
            tools[(tool, agent)] = governed
        with contextlib.suppress(GovernanceDenied):  # refused calls are audited too
            governed(**call.get("args", {}))
    Path(out).write_text("".join(line + "\n" for line in log.lines()), encoding="utf-8")
    _, head = log.head
    print(json.dumps({"head": head, "count": len(log)}))
    return 0


def verify(trail: str, head: str | None, count: int | None) -> int:
    """Verify a trail against the pinned head and count with agt-core; 0 when it verifies, else 1."""
    lines = Path(trail).read_text(encoding="utf-8").splitlines()
    try:
        verified = verify_audit_lines(lines, expected_head=head, expected_count=count)
    except (AuditIntegrityError, ValueError) as exc:
        print(f"python_trail: {trail}: {exc}", file=sys.stderr)
        return 1
    print(f"verified {verified.count} records ending at {verified.hash}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run `write` or `verify`."""
    parser = argparse.ArgumentParser(prog="python_trail.py")
    commands = parser.add_subparsers(dest="command", required=True)
    w = commands.add_parser("write")
    w.add_argument("policy")
    w.add_argument("out")
    w.add_argument("calls", nargs="?", type=Path, default=DEFAULT_CALLS)
    v = commands.add_parser("verify")
    v.add_argument("trail")
    v.add_argument("--head")
    v.add_argument("--count", type=int)
    args = parser.parse_args(argv)
    if args.command == "write":
        return write(args.policy, args.out, args.calls)
    return verify(args.trail, args.head, args.count)


if __name__ == "__main__":
    sys.exit(main())
