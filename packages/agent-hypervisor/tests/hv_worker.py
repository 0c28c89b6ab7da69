"""A separate process appending to a store: `python hv_worker.py PATH DURABILITY COUNT TAG`.

Prints each returned record hash on its own line, flushed, as soon as the append returns, so a
parent that kills this process knows exactly which appends had returned.
"""

from __future__ import annotations

import sys

from hv_support import decision, request

from agent_hypervisor import SqliteAuditLog


def main() -> None:
    path, durability, count, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    log = SqliteAuditLog(path, durability="batched" if durability == "batched" else "sync")
    print("ready", flush=True)
    for i in range(count):
        digest = log.append(request(i, agent=tag), decision(i))
        print(digest, flush=True)
    log.close()


if __name__ == "__main__":
    main()
