"""A saga in its own process: `python hv_saga_worker.py STORE EFFECTS SAGA_ID FAIL_STEP3`.

Each step appends a line to the EFFECTS file (what "really happened"); step `reserve` hangs
after its effect so the parent can SIGKILL the process mid-saga.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from agent_hypervisor import Saga, SagaStep, SagaStore


def steps(effects: Path, fail_step3: bool, hang: bool) -> list[SagaStep]:
    def effect(text: str) -> str:
        with effects.open("a") as f:
            f.write(text + "\n")
        return text

    def reserve(item: str) -> str:
        effect(f"reserve {item}")
        if hang:
            print("in reserve", flush=True)
            time.sleep(3600)
        return item

    def ship(item: str) -> str:
        if fail_step3:
            raise RuntimeError("carrier refused")
        return effect(f"ship {item}")

    return [
        SagaStep(
            "charge",
            lambda amount: effect(f"charge {amount}"),
            {"amount": 30},
            lambda amount: effect(f"refund {amount}"),
            {"amount": 30},
        ),
        SagaStep(
            "reserve", reserve, {"item": "book"}, lambda item: effect(f"release {item}"), {"item": "book"}
        ),
        SagaStep("ship", ship, {"item": "book"}, lambda item: effect(f"recall {item}"), {"item": "book"}),
    ]


def main() -> None:
    store_path, effects, saga_id, fail = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
    store = SagaStore(store_path)
    saga = Saga("order", steps(effects, fail, hang=True), saga_id=saga_id, store=store, sleep=lambda s: None)
    saga.run()


if __name__ == "__main__":
    main()
