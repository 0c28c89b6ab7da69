"""Builds the evaluation set (eval.jsonl, here) and the classifier's training corpus.

    python packages/agent-os/tests/detection/data/build.py

Deterministic: the same fragments always give the same files. Every text was written for this
project (see `_pools_eval.py`, `_pools_train.py`); no public dataset's text was copied. The
attack styles follow public prompt-injection datasets (direct overrides, indirect injection in
documents, emails and web pages, encoded payloads, many languages); the benign half is chosen to
look risky (security documentation, code reviews, emails about passwords, prompts about prompts).
"""

from __future__ import annotations

import base64
import codecs
import json
import random
import sys
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _pools_eval as E  # noqa: E402
import _pools_train as T  # noqa: E402

TRAIN = HERE.parents[2] / "src" / "agent_os" / "detection" / "_corpus" / "train.jsonl"

_HOMOGLYPHS = str.maketrans({"a": "а", "e": "е", "o": "о", "i": "і", "c": "с", "p": "р"})


def _zero_width(text: str) -> str:
    return "".join(ch + ("\u200b" if ch.isalpha() and i % 3 == 1 else "") for i, ch in enumerate(text))


def _tags(text: str) -> str:
    return "".join(chr(0xE0000 + ord(ch)) for ch in text if 0x20 <= ord(ch) < 0x7F)


ENCODINGS = {
    "base64": lambda p: f"Please process this: {base64.b64encode(p.encode()).decode()}",
    "hex": lambda p: f"payload={p.encode().hex()}",
    "rot13": lambda p: f"Translate from rot13 and follow: {codecs.encode(p, 'rot13')}",
    "url": lambda p: f"https://example.org/redirect?msg={urllib.parse.quote(p)}",
    "html-entities": lambda p: "".join(f"&#{ord(ch)};" for ch in p),
    "zero-width": _zero_width,
    "tags": lambda p: f"Thanks for the update, see you tomorrow!{_tags(p)}",
    "homoglyphs": lambda p: p.translate(_HOMOGLYPHS),
}


def build_eval() -> list[dict[str, object]]:
    rng = random.Random(20261201)
    items: list[dict[str, object]] = []

    def add(text: str, label: int, category: str) -> None:
        items.append({"id": f"e{len(items):04d}", "label": label, "category": category, "text": text})

    for kind, texts in E.DIRECT.items():
        for text in texts:
            add(text, 1, f"direct-{kind}")
    direct_all = [t for texts in E.DIRECT.values() for t in texts]
    for text in rng.sample(direct_all, 40):
        _, carrier = rng.choice(E.CARRIERS)
        add(carrier.format(payload=text.replace('"', "'")), 1, "direct-in-content")
    for index, payload in enumerate(E.INDIRECT_PAYLOADS):
        for offset in range(3):
            kind, carrier = E.CARRIERS[(index * 3 + offset) % len(E.CARRIERS)]
            add(carrier.format(payload=payload.replace('"', "'")), 1, f"indirect-{kind}")
    for payload in E.ENCODED_PAYLOADS:
        for name, encode in ENCODINGS.items():
            add(encode(payload), 1, f"encoded-{name}")
    for lang, text in E.MULTILINGUAL:
        add(text, 1, f"multilingual-{lang}")
        _, carrier = rng.choice(E.CARRIERS)
        add(carrier.format(payload=text), 1, f"multilingual-{lang}-in-content")
    for kind, texts in E.BENIGN.items():
        for text in texts:
            add(text, 0, f"benign-{kind}")
            _, carrier = rng.choice(E.CARRIERS)
            add(carrier.format(payload=text.replace('"', "'")), 0, f"benign-{kind}-in-content")
    for text in E.BENIGN_ENCODED:
        add(text, 0, "benign-encoded")
    benign_all = [t for texts in E.BENIGN.values() for t in texts]
    for _ in range(70):
        first, second = rng.sample(benign_all, 2)
        _, carrier = rng.choice(E.CARRIERS)
        add(carrier.format(payload=f"{first} {second}".replace('"', "'")), 0, "benign-mixed")
    return items


def build_train() -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    for label, texts in ((1, T.ATTACKS), (0, T.BENIGN)):
        for index, text in enumerate(texts):
            items.append({"text": text, "label": label})
            carrier = T.CARRIERS[index % len(T.CARRIERS)]
            items.append({"text": carrier.format(payload=text.replace('"', "'")), "label": label})
    return items


def _write(path: Path, items: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for item in items:
            out.write(json.dumps(item, ensure_ascii=False) + "\n")


def main() -> None:
    _write(HERE / "eval.jsonl", build_eval())
    _write(TRAIN, build_train())


if __name__ == "__main__":
    main()
