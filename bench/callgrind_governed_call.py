"""Instructions per governed call, and per part of it, counted by callgrind (repeatable on a loaded machine).

`bench/callgrind_breakdown.py` runs this under callgrind and prints the table. By hand::

    valgrind --tool=callgrind --dump-before=time_sleep --callgrind-out-file=/tmp/cg/out \
        python bench/callgrind_governed_call.py on,off,build 2000

For each part in turn: 100 warm-up calls, ``time.sleep(0)``, the timed calls, ``time.sleep(0)``.
``--dump-before=time_sleep`` makes callgrind write its counters at every ``sleep`` and reset them,
so dump ``2k`` (``out.2``, ``out.4``, ...) holds exactly the k-th part's timed calls: start-up,
imports and policy compilation never enter a figure.

Parts, with the seed policy and a two-argument tool as in bench/run.py:

* ``loop``: an empty lambda (the measuring loop's own cost, in every other figure);
* ``raw``: the tool called directly (the floor);
* ``on`` / ``off``: the whole governed call, audit on (an `AuditLog`) or off;
* ``on_general``: ``on`` on the kernel's general path (the native call plan switched off);
* ``on_pyrecord``: ``on_general`` with the record built and hashed in Python even when the native
  ``chain_record`` is there (valgrind emulates no SHA extensions, so the native SHA-256 counts
  more instructions here than OpenSSL's, while on the CPU it is faster: compare wall time);
* ``build``: binding, freezing and type-checking the arguments, building the request and its
  canonical JSON (the request builder alone);
* ``evaluate``: ``policy_set.evaluate(request)`` alone (the evaluator chosen by ``AGT_EVALUATOR``);
* ``append``: ``AuditLog.append`` of that request (its canonical JSON given, as the kernel gives it)
  and decision: record body, timestamp, SHA-256, chain update;
* ``enforce``: the kernel's whole pipeline for a built request, audit on (evaluate, append and
  the kernel's own steps);
* ``plan_decide`` / ``plan_append``: the native call plan's ``decide(kwargs)`` (the common
  call's one crossing, no record) and ``decide_and_append(kwargs)``, which also appends the
  record to the log's native trail, as ``govern()`` calls it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_os import AuditLog
from agentmesh.governance import govern

SEED = Path(__file__).resolve().parent.parent / "conformance" / "seed-policy.yaml"


def noop_tool(action: str, table: str) -> str:
    return "ok"


def part(name: str, policy: Path) -> Callable[[], Any]:
    """The callable one iteration of `name` runs."""
    if name == "loop":
        return lambda: None
    if name == "raw":
        return lambda: noop_tool(action="read", table="users")
    if name in ("on_general", "on_pyrecord"):
        # The kernel's general path: the call plan switched off (measurement only, not an option).
        import agent_os._call_plan as call_plan

        made = call_plan.native_call_plan
        call_plan.native_call_plan = lambda *args, **kwargs: None  # type: ignore[assignment]
        try:
            safe = govern(noop_tool, policy=str(policy), audit=AuditLog(), agent_id="bench")
        finally:
            call_plan.native_call_plan = made  # type: ignore[assignment]
        if name == "on_pyrecord":
            # The native set's chain_record off too: the record built and hashed by agt-core in Python.
            safe.kernel._chain_record = None  # type: ignore[attr-defined]
        return lambda: safe(action="read", table="users")
    safe = govern(
        noop_tool, policy=str(policy), audit=AuditLog() if name != "off" else False, agent_id="bench"
    )
    kernel: Any = safe.kernel  # type: ignore[attr-defined]
    if name in ("on", "off"):
        return lambda: safe(action="read", table="users")
    plan: Any = safe.native_plan  # type: ignore[attr-defined]
    kwargs = {"action": "read", "table": "users"}
    if name == "plan_decide":
        decide = plan.decide
        return lambda: decide(kwargs)
    if name == "plan_append":
        append = plan.decide_and_append  # the log's chain is in native memory (govern() moved it)
        return lambda: append(kwargs)
    builder = _builder_of(safe)
    request, request_json, _ = builder.build((), {"action": "read", "table": "users"})
    decision = kernel.policy_set.evaluate(request)
    if name == "build":
        build = builder.build
        return lambda: build((), {"action": "read", "table": "users"})
    if name == "evaluate":
        evaluate = kernel.policy_set.evaluate
        return lambda: evaluate(request)
    if name == "append":
        append = AuditLog().append
        return lambda: append(request, decision, request_json=request_json)
    if name == "enforce":
        enforce = kernel._enforce
        return lambda: enforce(request, request_json)
    raise SystemExit(f"unknown part `{name}`")


def _builder_of(safe: Any) -> Any:
    """The wrapper's request builder (held in its closure; not public API, measurement only)."""
    from agent_os._request_builder import RequestBuilder

    for cell in safe.__closure__ or ():
        value = cell.cell_contents
        owner = getattr(value, "__self__", value)
        if isinstance(owner, RequestBuilder):
            return owner
    raise SystemExit("the governed wrapper holds no RequestBuilder")


def main() -> None:
    names, calls = sys.argv[1].split(","), int(sys.argv[2])
    with tempfile.TemporaryDirectory() as folder:
        policy = Path(folder) / "policy.yaml"
        policy.write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
        runs = [part(name, policy) for name in names]
        for run in runs:
            for _ in range(100):
                run()
            time.sleep(0)  # marker: callgrind dumps here (--dump-before=time_sleep)
            for _ in range(calls):
                run()
            time.sleep(0)


if __name__ == "__main__":
    main()
