"""Sagas: compensation in reverse, retries with backoff, timeouts, escalation, policy on
compensations, and a SIGKILL mid-saga resumed from the durable store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hv_saga_worker import steps as order_steps

import agent_os
from agent_hypervisor import MerkleAuditLog, Saga, SagaError, SagaStep, SagaStore

HERE = Path(__file__).parent

POLICY = """\
apiVersion: governance.toolkit/v1
name: saga-policy
default_action: allow
rules:
- name: no-compensating-wire-transfers
  condition: "action.type == 'unwire' && context.compensation == true"
  action: deny
"""


@pytest.fixture(autouse=True)
def _fresh_pipeline() -> None:
    agent_os.pipeline().reset()


def recorder() -> tuple[list[str], object]:
    done: list[str] = []

    def make(label: str, fail: int = 0):
        state = {"left": fail}

        def fn(**kwargs: object) -> str:
            if state["left"] > 0:
                state["left"] -= 1
                done.append(f"{label} failed")
                raise RuntimeError(f"{label} failed")
            done.append(label)
            return label

        return fn

    return done, make


def test_success_runs_every_step_once() -> None:
    done, make = recorder()
    log = MerkleAuditLog()
    saga = Saga(
        "ok", [SagaStep("a", make("a"), compensate=make("undo a")), SagaStep("b", make("b"))], audit=log
    )
    state = saga.run()
    assert state["status"] == "completed" and done == ["a", "b"]
    assert [r.request["action"]["type"] for r in log][-1] == "saga.completed"
    assert log.verify().ok


def test_failure_compensates_completed_steps_in_reverse() -> None:
    done, make = recorder()
    saga = Saga(
        "order",
        [
            SagaStep("a", make("a"), compensate=make("undo a")),
            SagaStep("b", make("b"), compensate=make("undo b")),
            SagaStep("c", make("c", fail=5), compensate=make("undo c"), retries=2),
        ],
        sleep=lambda s: None,
    )
    state = saga.run()
    assert state["status"] == "compensated"
    assert done == ["a", "b", "c failed", "c failed", "c failed", "undo b", "undo a"]
    assert [s["status"] for s in state["steps"]] == ["compensated", "compensated", "failed"]
    assert state["steps"][2]["attempts"] == 3


def test_retries_use_backoff_and_can_succeed() -> None:
    done, make = recorder()
    waits: list[float] = []
    saga = Saga("retry", [SagaStep("a", make("a", fail=2), retries=3)], sleep=waits.append)
    assert saga.run()["status"] == "completed"
    assert waits == [0.05, 0.1] and done == ["a failed", "a failed", "a"]


def test_a_timed_out_step_is_compensated_too() -> None:
    done, make = recorder()
    import threading

    release = threading.Event()

    def slow() -> str:
        release.wait(5)
        return "late"

    saga = Saga(
        "t",
        [
            SagaStep("a", make("a"), compensate=make("undo a")),
            SagaStep("slow", slow, compensate=make("undo slow"), timeout=0.05),
        ],
    )
    state = saga.run()
    release.set()
    assert state["status"] == "compensated"
    assert state["steps"][1]["status"] == "compensated" and "timed out" in state["steps"][1]["error"]
    assert done == ["a", "undo slow", "undo a"]


def test_a_failing_compensation_is_escalated_and_the_rest_still_run() -> None:
    done, make = recorder()
    escalations = []
    saga = Saga(
        "esc",
        [
            SagaStep("a", make("a"), compensate=make("undo a")),
            SagaStep("b", make("b"), compensate=make("undo b", fail=10), compensation_retries=1),
            SagaStep("c", make("c", fail=1)),
        ],
        escalate=escalations.append,
        sleep=lambda s: None,
    )
    state = saga.run()
    assert state["status"] == "compensation_failed"
    assert [e.step for e in escalations] == ["b"]
    assert done[-1] == "undo a"  # compensation went on past the failed one


def test_policy_applies_to_compensations(tmp_path: Path) -> None:
    log = MerkleAuditLog()
    moved: list[str] = []
    wire = agent_os.govern(
        lambda action, amount: moved.append(f"{action} {amount}"), policy=POLICY, audit=log
    )
    saga = Saga(
        "payout",
        [
            SagaStep(
                "wire",
                wire,
                {"action": "wire", "amount": 10},
                compensate=wire,
                compensate_args={"action": "unwire", "amount": 10},
            ),
            SagaStep("fail", lambda: (_ for _ in ()).throw(RuntimeError("downstream failed"))),
        ],
        audit=log,
        sleep=lambda s: None,
    )
    state = saga.run()
    assert state["status"] == "compensation_failed"  # the policy refused the compensation
    assert "GovernanceDenied" in state["steps"][0]["error"]
    assert state["steps"][0]["attempts"] == 2  # one try for the action, one (not retried) for the denial
    assert moved == ["wire 10"]
    denied = log.query(effect="deny")
    assert denied and denied[0].request["context"]["compensation"] is True
    assert denied[0].request["context"]["saga"] == saga.id


def _run_worker(store: Path, effects: Path, saga_id: str, fail_step3: bool) -> None:
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "hv_saga_worker.py"),
            str(store),
            str(effects),
            saga_id,
            "1" if fail_step3 else "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "in reserve"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()


@pytest.mark.parametrize(
    "fail_step3", [False, True], ids=["resumes-to-completion", "resumes-then-compensates"]
)
def test_sigkill_mid_saga_then_resume(tmp_path: Path, fail_step3: bool) -> None:
    store_path, effects = tmp_path / "sagas.db", tmp_path / "effects.txt"
    _run_worker(store_path, effects, "order-1", fail_step3)
    assert effects.read_text().splitlines() == ["charge 30", "reserve book"]
    store = SagaStore(store_path)
    assert store.unfinished() == ["order-1"]
    saved = store.load("order-1")
    assert saved is not None and [s["status"] for s in saved["steps"]] == ["done", "running", "pending"]
    saga = Saga.resume(
        "order-1", order_steps(effects, fail_step3, hang=False), store=store, sleep=lambda s: None
    )
    state = saga.run()
    lines = effects.read_text().splitlines()
    if fail_step3:
        assert state["status"] == "compensated"
        # `reserve` ran again (at-least-once), then compensations in reverse order.
        assert lines == ["charge 30", "reserve book", "reserve book", "release book", "refund 30"]
    else:
        assert state["status"] == "completed"
        assert lines == ["charge 30", "reserve book", "reserve book", "ship book"]
    assert store.unfinished() == []
    store.close()


def test_resume_refuses_unknown_sagas_and_other_steps(tmp_path: Path) -> None:
    store = SagaStore(tmp_path / "s.db")
    with pytest.raises(SagaError, match="holds no saga"):
        Saga.resume("nope", [SagaStep("a", lambda: None)], store=store)
    Saga("x", [SagaStep("a", lambda: None)], saga_id="x1", store=store).run()
    with pytest.raises(SagaError, match="do not match"):
        Saga.resume("x1", [SagaStep("b", lambda: None)], store=store)
    with pytest.raises(SagaError, match="unique"):
        Saga("dup", [SagaStep("a", lambda: None), SagaStep("a", lambda: None)])
    store.close()


def test_the_multi_agent_story_example_runs_and_verifies(tmp_path: Path) -> None:
    example = HERE.parent / "examples" / "multi_agent_story.py"
    proc = subprocess.run(
        [sys.executable, str(example), str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK: " in proc.stdout and "saga: compensated" in proc.stdout
    assert "commitment.broken" in proc.stdout and "refund" in proc.stdout
