"""Measures the detector on a labelled set: precision, recall, false-positive rate and latency per layer.

    python -m agent_os.detection.evaluate                      # rules; rules + normalisation
    python -m agent_os.detection.evaluate --classifier         # also the classifier, alone and combined
    python -m agent_os.detection.evaluate --by-category --json

The default set is ``packages/agent-os/tests/detection/data/eval.jsonl`` of a source checkout
(one JSON object per line: ``text``, ``label`` 1 = injection / 0 = benign, ``category``).
Counts are deterministic; latencies depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent_os.detection._detector import Detector

__all__ = ["LayerResult", "evaluate", "load_set", "main"]

_DEFAULT_SET = Path(__file__).resolve().parents[3] / "tests" / "detection" / "data" / "eval.jsonl"


@dataclass
class LayerResult:
    """What one layer configuration scored on the set."""

    layer: str
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0
    latency_us: list[float] = field(default_factory=list, repr=False)  # CPU time of the scanning thread
    wall_us: list[float] = field(default_factory=list, repr=False)
    by_category: dict[str, list[int]] = field(default_factory=dict, repr=False)  # category -> [right, total]

    @property
    def precision(self) -> float:
        """TP / (TP + FP): of the texts flagged, the share that were injections."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN): of the injections, the share flagged."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def false_positive_rate(self) -> float:
        """FP / (FP + TN): of the benign texts, the share flagged."""
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0

    def summary(self) -> dict[str, Any]:
        """Counts, rates and latency percentiles as plain data."""
        data = {k: v for k, v in asdict(self).items() if k not in ("latency_us", "wall_us", "by_category")}
        lat = sorted(self.latency_us)
        data.update(
            precision=round(self.precision, 4),
            recall=round(self.recall, 4),
            false_positive_rate=round(self.false_positive_rate, 4),
            latency_us_mean=round(statistics.fmean(lat), 1) if lat else None,
            latency_us_p50=round(lat[len(lat) // 2], 1) if lat else None,
            latency_us_p95=round(lat[min(len(lat) - 1, int(len(lat) * 0.95))], 1) if lat else None,
            wall_us_p50=round(sorted(self.wall_us)[len(self.wall_us) // 2], 1) if self.wall_us else None,
        )
        return data


def load_set(path: str | Path) -> list[dict[str, Any]]:
    """The labelled texts of a JSON-lines file.

    Raises:
        ValueError: When a line is not an object with a string ``text`` and a ``label`` of 0 or 1.
    """
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("text"), str)
            or row.get("label") not in (0, 1)
        ):
            raise ValueError(f"{path}:{number}: expected {{'text': str, 'label': 0 or 1, 'category': str}}")
        rows.append(row)
    return rows


def evaluate(name: str, detector: Detector, rows: Sequence[dict[str, Any]]) -> LayerResult:
    """Scans every row with `detector` (one text at a time, as in a governed call) and counts."""
    result = LayerResult(name)
    # CPU time of this thread, not wall time: on a shared machine the scheduler's pauses would
    # otherwise dominate the tail. Wall time is kept too (its median is reported).
    cpu, wall = time.thread_time_ns, time.perf_counter_ns
    for row in rows:
        started_cpu, started_wall = cpu(), wall()
        flagged = detector.scan(row["text"]).is_injection
        result.latency_us.append((cpu() - started_cpu) / 1000)
        result.wall_us.append((wall() - started_wall) / 1000)
        label = row["label"] == 1
        if flagged and label:
            result.tp += 1
        elif flagged:
            result.fp += 1
        elif label:
            result.fn += 1
        else:
            result.tn += 1
        tally = result.by_category.setdefault(str(row.get("category", "?")), [0, 0])
        tally[0] += flagged == label
        tally[1] += 1
    return result


def _table(results: Sequence[LayerResult]) -> str:
    lines = [
        "| layers | precision | recall | false-positive rate | TP | FP | TN | FN "
        "| CPU per text (mean / p50 / p95) | wall p50 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r.summary()
        lines.append(
            f"| {r.layer} | {s['precision']:.3f} | {s['recall']:.3f} | {s['false_positive_rate']:.3f} "
            f"| {r.tp} | {r.fp} | {r.tn} | {r.fn} | {_us(s['latency_us_mean'])} / {_us(s['latency_us_p50'])} / "
            f"{_us(s['latency_us_p95'])} | {_us(s['wall_us_p50'])} |"
        )
    return "\n".join(lines)


def _us(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.1f} ms" if value >= 1000 else f"{value:.0f} us"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m agent_os.detection.evaluate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data", type=Path, default=_DEFAULT_SET, help="labelled JSON-lines set")
    parser.add_argument("--classifier", action="store_true", help="also measure the embedding classifier")
    parser.add_argument("--by-category", action="store_true", help="accuracy per category")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        parser.error(f"no evaluation set at {args.data}; pass --data PATH (it ships in the source tree only)")
    rows = load_set(args.data)
    configs: list[tuple[str, Detector]] = [
        ("rules", Detector(normalise=False)),
        ("rules + normalisation", Detector()),
    ]
    if args.classifier:
        from agent_os.detection._classifier import EmbeddingClassifier

        classifier = EmbeddingClassifier()
        classifier.probability("warm-up")  # loads the model and trains once, outside the timings
        configs.append(("classifier", Detector(normalise=False, rules=False, classifier=classifier)))
        configs.append(("rules + normalisation + classifier", Detector(classifier=classifier)))
    results = [evaluate(name, detector, rows) for name, detector in configs]
    positives = sum(1 for row in rows if row["label"] == 1)
    if args.json:
        out = {
            "data": str(args.data),
            "texts": len(rows),
            "injections": positives,
            "layers": [
                r.summary() | ({"by_category": r.by_category} if args.by_category else {}) for r in results
            ],
        }
        print(json.dumps(out, indent=2))
        return 0
    print(f"{len(rows)} texts ({positives} injections, {len(rows) - positives} benign) from {args.data}\n")
    print(_table(results))
    if args.by_category:
        categories = sorted({c for r in results for c in r.by_category})
        print("\n| category | texts | " + " | ".join(r.layer for r in results) + " |")
        print("|---|---|" + "---|" * len(results))
        for category in categories:
            total = results[0].by_category.get(category, [0, 0])[1]
            cells = " | ".join(f"{r.by_category.get(category, [0, 0])[0]}/{total}" for r in results)
            print(f"| {category} | {total} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
