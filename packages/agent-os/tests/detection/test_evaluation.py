"""The measured figures, as floors: deterministic counts on the labelled sets (no clock involved).

eval.jsonl's floors hold the detector to what docs/detection.md reports; blind.jsonl's are
the honest figure on phrasing the rules were never tuned on.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from agent_os.detection import Detector
from agent_os.detection.evaluate import evaluate, load_set, main

from .conftest import DATA, load


def _by_category(rows: list[dict[str, object]], detector: Detector) -> dict[str, list[int]]:
    result = evaluate("x", detector, rows)
    return result.by_category


def test_evaluation_set_is_large_labelled_and_balanced() -> None:
    rows = load("eval.jsonl")
    assert len(rows) >= 500
    assert {row["label"] for row in rows} == {0, 1}
    positives = sum(row["label"] for row in rows)
    assert 0.4 < positives / len(rows) < 0.6
    assert len({row["id"] for row in rows}) == len(rows)


def test_evaluation_set_is_rebuilt_identically_from_its_fragments(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("_agt_detection_build", DATA / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build_eval()
    assert [json.dumps(item, ensure_ascii=False) for item in built] == (DATA / "eval.jsonl").read_text(
        encoding="utf-8"
    ).splitlines()
    train = module.build_train()
    corpus = Path(module.TRAIN).read_text(encoding="utf-8").splitlines()
    assert [json.dumps(item, ensure_ascii=False) for item in train] == corpus


def test_training_and_evaluation_sentences_are_disjoint() -> None:
    from agent_os.detection._classifier import load_corpus

    train = {text for text, _ in load_corpus()}
    for name in ("eval.jsonl", "blind.jsonl"):
        held_out = {row["text"] for row in load(name)}
        assert not train & held_out, name
        for text in train:
            # no training sentence sits inside a held-out text either (carriers wrap fragments)
            if len(text) > 40:
                assert not any(text in other for other in held_out), text


@pytest.mark.parametrize(
    ("name", "normalise", "precision", "recall", "fpr"),
    [
        ("eval.jsonl", False, 0.97, 0.75, 0.02),
        ("eval.jsonl", True, 0.99, 0.99, 0.01),
        ("blind.jsonl", True, 0.95, 0.45, 0.05),
    ],
)
def test_measured_floors(name: str, normalise: bool, precision: float, recall: float, fpr: float) -> None:
    result = evaluate(name, Detector(normalise=normalise), load_set(DATA / name))
    assert result.precision >= precision
    assert result.recall >= recall
    assert result.false_positive_rate <= fpr


def test_every_attack_category_is_caught_and_every_benign_category_stays_quiet() -> None:
    rows = load("eval.jsonl")
    tallies = _by_category(rows, Detector())
    labels = defaultdict(set)
    for row in rows:
        labels[row["category"]].add(row["label"])
    for category, (right, total) in tallies.items():
        # at most one miss (or one false alarm) in any category of the set
        assert total - right <= 1, (category, right, total)
    assert any(c.startswith("encoded-") for c in tallies) and any(
        c.startswith("multilingual-") for c in tallies
    )
    assert any(c.startswith("benign-security") for c in tallies) and any(
        c.startswith("benign-code") for c in tallies
    )


def test_the_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data", str(DATA / "blind.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "| rules + normalisation |" in out and "80 texts (40 injections, 40 benign)" in out


def test_the_command_runs_as_a_module_with_json_output() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "agent_os.detection.evaluate", "--data", str(DATA / "blind.jsonl"), "--json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(out)
    assert [layer["layer"] for layer in data["layers"]] == ["rules", "rules + normalisation"]
    assert data["texts"] == 80


def test_a_bad_line_in_a_set_is_reported_with_its_place(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok", "label": 0}\n{"text": "x", "label": 2}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: expected"):
        load_set(bad)
