"""The learning claim, measured with a fixed seed on a short run (200 episodes, a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_lightning import demo

EPISODES = 200


@pytest.fixture(scope="module")
def results() -> dict[str, demo.DemoResult]:
    return demo.run_demo(episodes=EPISODES, seed=0)


def test_governed_reaches_the_task_reward_within_the_margin(results: dict[str, demo.DemoResult]) -> None:
    ungoverned, governed = results["ungoverned"], results["governed"]
    assert governed.greedy_reward >= (1 - demo.REWARD_MARGIN) * ungoverned.greedy_reward
    # The best compliant policy earns 9.5 per episode; the learner gets there.
    assert governed.greedy_reward == pytest.approx(9.5, abs=0.3)


def test_governed_violation_rate_falls_below_the_threshold(results: dict[str, demo.DemoResult]) -> None:
    governed = results["governed"]
    assert governed.tail_violation_rate() < demo.VIOLATION_THRESHOLD
    assert governed.greedy_violation_rate == 0.0
    # It learned this: early in training, while exploring, it violated often.
    assert sum(governed.violation_rate[:20]) / 20 > 0.25


def test_the_baseline_really_violates(results: dict[str, demo.DemoResult]) -> None:
    # Without the penalty the learner prefers the forbidden shortcuts: the comparison is not vacuous.
    ungoverned = results["ungoverned"]
    assert ungoverned.greedy_violation_rate > 0.3
    assert ungoverned.tail_violation_rate() > 0.3


def test_training_decisions_are_audited(results: dict[str, demo.DemoResult]) -> None:
    assert results["ungoverned"].audit_records == EPISODES * demo.STEPS_PER_EPISODE
    assert results["governed"].audit_records >= EPISODES * 5


def test_plot_writes_a_png(results: dict[str, demo.DemoResult], tmp_path: Path) -> None:
    out = demo.plot(results, tmp_path / "curves.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_main_prints_the_claim(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert demo.main(["--episodes", "150", "--seed", "1", "--plot", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out
    assert "governed reaches" in out and "holds" in out and (tmp_path / "p.png").exists()
