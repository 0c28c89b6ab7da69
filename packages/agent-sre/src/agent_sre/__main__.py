"""Operate kill switches from a shell: ``python -m agent_sre --store PATH_OR_DSN pull|release|status|history``.

Examples::

    python -m agent_sre --store /var/lib/agt/kill-switch.db pull agent billing-bot --by alice --reason "INC-42"
    python -m agent_sre --store /var/lib/agt/kill-switch.db status
    python -m agent_sre --store postgresql://agt@db/agt release global --by alice --reason "all clear"

Exit codes: 0 done, 1 nothing to release, 2 bad arguments, 3 the store cannot be used.
Pulls and releases are recorded in the store's history (this command has no audit log of its own).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent_sre._switch_store import SwitchStore

__all__ = ["main"]


def _store(location: str, create: bool) -> SwitchStore:
    if location.startswith(("postgresql://", "postgres://")):
        from agent_sre._pg_store import PostgresSwitchStore

        return PostgresSwitchStore(location)
    from agent_sre._switch_store import SQLiteSwitchStore

    return SQLiteSwitchStore(location, create=create)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    from agent_sre._errors import SREError
    from agent_sre._kill_switch import KillSwitch

    parser = argparse.ArgumentParser(
        prog="python -m agent_sre", description="Operate agent-sre kill switches."
    )
    parser.add_argument("--store", required=True, help="SQLite file, or a postgresql:// URL")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("pull", "release"):
        command = commands.add_parser(name, help=f"{name} a kill switch")
        command.add_argument("scope", choices=["global", "agent", "tool"])
        command.add_argument("target", nargs="?", help="the agent id or tool name (none for global)")
        command.add_argument("--by", required=True, help="who does it")
        command.add_argument("--reason", required=True, help="why")
    commands.add_parser("status", help="list the pulled switches")
    commands.add_parser("history", help="list every pull and release")
    args = parser.parse_args(argv)

    try:
        # Only a pull may create a new store: reading or releasing from a mistyped path must not.
        store = _store(args.store, create=args.command == "pull")
        ks = KillSwitch(store, audit=False)
        if args.command == "pull":
            switch = ks.pull(args.scope, args.target, by=args.by, reason=args.reason)
            print(f"pulled {switch.scope}:{switch.target} at {switch.pulled_at}")
        elif args.command == "release":
            released = ks.release(args.scope, args.target, by=args.by, reason=args.reason)
            if released is None:
                print(f"{args.scope}:{args.target or '*'} was not pulled", file=sys.stderr)
                return 1
            print(f"released {released.scope}:{released.target}")
        elif args.command == "status":
            for s in ks.pulled():
                print(f"{s.scope}:{s.target}\tpulled by {s.pulled_by} at {s.pulled_at}: {s.reason}")
        else:
            for e in ks.history():
                print(f"{e.seq}\t{e.at}\t{e.event}\t{e.scope}:{e.target}\tby {e.actor}: {e.reason}")
        ks.close()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SREError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
