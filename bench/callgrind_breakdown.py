"""Where a governed call's instructions go: callgrind counts per part, per evaluator.

    python bench/callgrind_breakdown.py [--evaluators native,python] [--parts loop,raw,...] [--calls 2000]

Runs `callgrind_governed_call.py` once per evaluator under ``valgrind --tool=callgrind
--dump-before=time_sleep``: the script marks the start and end of each part's timed calls with
``time.sleep(0)``, so each part's count is read from its own dump, with start-up and warm-up
left out. Instruction counts do not depend on the machine's load (wall time does), so they
compare commits on a shared machine. Results: bench/results/callgrind-latest.json. Needs valgrind
(``apt-get install -y --no-install-recommends valgrind``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPT = BENCH / "callgrind_governed_call.py"
PARTS = (
    "loop",
    "raw",
    "build",
    "evaluate",
    "append",
    "enforce",
    "plan_decide",
    "plan_append",
    "off",
    "on",
    "on_general",
    "on_pyrecord",
)
_TOTALS = re.compile(r"^totals: (\d+)", re.MULTILINE)


def per_call(evaluator: str, parts: list[str], calls: int) -> dict[str, int]:
    """Instructions per call of each part, with `evaluator` chosen through ``AGT_EVALUATOR``."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "cg.out"
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--dump-before=time_sleep",
                f"--callgrind-out-file={out}",
                sys.executable,
                str(SCRIPT),
                ",".join(parts),
                str(calls),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "AGT_EVALUATOR": evaluator},
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"{evaluator} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        totals = {}
        for dump in Path(folder).glob("cg.out.*"):
            found = _TOTALS.search(dump.read_text(encoding="utf-8", errors="replace"))
            if found:
                totals[int(dump.suffix[1:])] = int(found.group(1))
    # Dump 2k holds the k-th part's timed calls (dump 2k - 1: start-up or warm-up before it).
    return {name: round(totals[2 * (i + 1)] / calls) for i, name in enumerate(parts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluators", default="native,python")
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per part")
    parser.add_argument("--label", default="", help="stored with the results (e.g. a commit)")
    ns = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt-get install -y --no-install-recommends valgrind")
    evaluators, parts = ns.evaluators.split(","), ns.parts.split(",")

    def run(evaluator: str) -> dict[str, int]:
        # The call plan is the native policy set's: its parts do not exist for the Python evaluator.
        own = [p for p in parts if evaluator == "native" or not p.startswith("plan_")]
        return per_call(evaluator, own, ns.calls)

    with ThreadPoolExecutor(len(evaluators)) as pool:
        table = dict(zip(evaluators, pool.map(run, evaluators), strict=True))
    print(f"instructions per call (callgrind, {ns.calls} calls per part){' ' + ns.label if ns.label else ''}")
    print(f"{'part':12}" + "".join(f"{e:>12}" for e in evaluators))
    for name in parts:
        cells = (f"{table[e][name]:>12,}" if name in table[e] else f"{'n/a':>12}" for e in evaluators)
        print(f"{name:12}" + "".join(cells))
    out = BENCH / "results" / "callgrind-latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"label": ns.label, "calls": ns.calls, "per_call": table}, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
