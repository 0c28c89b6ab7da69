"""Cost of a governed step: the demo environment with and without `GovernedEnv`.

Run: python packages/agent-lightning/bench/step_cost.py   (prints the evaluator in use and
microseconds per step, best of three runs of 5,000 steps)
"""

from __future__ import annotations

import time
from typing import Any

from agent_lightning import GovernedEnv
from agent_lightning.demo import POLICY, TOOLS, ToolDeskEnv

STEPS = 5000


def per_step(env: Any) -> float:
    """Microseconds per step of `env`, the best of three runs."""
    best = float("inf")
    for _ in range(3):
        env.reset(seed=0)
        start = time.perf_counter()
        for _ in range(STEPS):
            _, _, terminated, truncated, _ = env.step(2)
            if terminated or truncated:
                env.reset()
        best = min(best, (time.perf_counter() - start) / STEPS * 1e6)
    return best


def main() -> None:
    """Print both figures."""
    governed = GovernedEnv(
        ToolDeskEnv(), policy=POLICY, action_names=TOOLS, state=lambda o, i: {"pii": i["pii"]}
    )
    print(f"evaluator: {governed.gate.policy_set.evaluator}")
    print(f"ungoverned: {per_step(ToolDeskEnv()):.1f} us/step")
    print(f"governed:   {per_step(governed):.1f} us/step")


if __name__ == "__main__":
    main()
