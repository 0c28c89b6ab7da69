"""The hint prefilters never change what is found: compared with running every pattern on every text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_os.redaction import DETECTORS, find_spans
from agent_os.redaction import _detectors as d

from .corpus import NEAR_MISSES, SECRETS


def slow_spans(text: str) -> list[d.Span]:
    """find_spans without any prefilter: every pattern runs on the whole text."""
    found = []
    for name, (pattern, check) in d._COMPILED.items():
        for m in pattern.finditer(text):
            span = check(m)
            if span is not None and span[1] > span[0]:
                found.append(d.Span(span[0], span[1], name))
    found.sort(key=lambda s: (s.start, d._ORDER[s.detector], -s.end))
    passwords = {s.start for s in found if s.detector == "url_password"}
    found = [s for s in found if not (s.detector == "email" and s.start in passwords)]
    merged: list[d.Span] = []
    for span in found:
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            if span.end > last.end:
                merged[-1] = d.Span(last.start, span.end, last.detector)
            continue
        merged.append(span)
    return merged


FRAGMENTS = [text for _, text, _ in SECRETS] + [text for text, _ in NEAR_MISSES]
texts = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(alphabet="aAkK0123456789 -_.@:/+()=eyJsSKIA", max_size=30)),
    max_size=6,
).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(texts)
def test_prefilters_agree_with_running_every_pattern(text: str) -> None:
    assert find_spans(text, DETECTORS) == slow_spans(text)


def test_every_corpus_text_agrees() -> None:
    for text in FRAGMENTS:
        assert find_spans(text) == slow_spans(text), text
