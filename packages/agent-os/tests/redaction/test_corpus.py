"""Each detector finds the real-shaped secrets of its kind and leaves near misses alone."""

from __future__ import annotations

import pytest

from agent_os.redaction import DETECTORS, Redactor, find_spans

from .corpus import NEAR_MISSES, SECRETS


@pytest.mark.parametrize(
    ("detector", "text", "secret"), SECRETS, ids=[f"{d}-{i}" for i, (d, _, _) in enumerate(SECRETS)]
)
def test_secret_is_found_and_redacted(detector: str, text: str, secret: str) -> None:
    spans = find_spans(text)
    assert [s.detector for s in spans] == [detector], spans
    redacted = Redactor().redact_text(text)
    assert secret not in redacted
    assert f"[REDACTED:{detector}]" in redacted


@pytest.mark.parametrize(("text", "why"), NEAR_MISSES, ids=[why for _, why in NEAR_MISSES])
def test_near_miss_is_left_alone(text: str, why: str) -> None:
    assert find_spans(text) == [], why
    assert Redactor().redact_text(text) == text


def test_corpus_covers_every_text_detector() -> None:
    covered = {d for d, _, _ in SECRETS}
    assert covered == set(DETECTORS) - {"secret_field"}


def test_only_the_chosen_detectors_run() -> None:
    text = "mail jane@example.com key AKIAIOSFODNN7EXAMPLE"
    assert Redactor(detectors=["email"]).redact_text(text) == "mail [REDACTED:email] key AKIAIOSFODNN7EXAMPLE"


def test_hash_replacement_names_the_value_without_holding_it() -> None:
    r = Redactor(replacement="hash")
    a = r.redact_text("AKIAIOSFODNN7EXAMPLE")
    assert a.startswith("[REDACTED:aws_access_key:") and len(a) == len("[REDACTED:aws_access_key:]") + 12
    assert r.redact_text("AKIAIOSFODNN7EXAMPLE") == a  # the same secret, the same token
    assert r.redact_text("AKIAI44QH8DHBEXAMPLE") != a


def test_redaction_is_idempotent() -> None:
    r = Redactor()
    once = r.redact_text(" ".join(text for _, text, _ in SECRETS))
    assert r.redact_text(once) == once


def test_secrets_next_to_each_other_are_each_redacted() -> None:
    text = "AKIAIOSFODNN7EXAMPLE,jane@example.com;4111111111111111"
    assert Redactor().redact_text(text) == "[REDACTED:aws_access_key],[REDACTED:email];[REDACTED:credit_card]"


def test_secret_fields_by_key_name() -> None:
    data = {"user": "jane", "password": "correct horse", "nested": {"X-Api-Key": "abc", "db_password": 1234}}
    out = Redactor().redact_data(data)
    assert out == {
        "user": "jane",
        "password": "[REDACTED:secret_field]",
        "nested": {"X-Api-Key": "[REDACTED:secret_field]", "db_password": "[REDACTED:secret_field]"},
    }
    assert data["password"] == "correct horse"  # the input is not changed


def test_keys_holding_secrets_are_redacted_too() -> None:
    out = Redactor().redact_data({"jane@example.com": 1, "bob@example.com": 2})
    assert list(out) == ["[REDACTED:email]", "[REDACTED:email]#"]
    assert list(out.values()) == [1, 2]


def test_card_number_given_as_a_number() -> None:
    assert Redactor().redact_data({"card": 4111111111111111}) == {"card": "[REDACTED:credit_card]"}
    assert Redactor().redact_data({"count": 4111111111111112}) == {"count": 4111111111111112}


def test_results_keep_their_shape_and_refuse_what_cannot_be_scanned() -> None:
    from agt_core import RequestError

    r = Redactor()
    assert r.redact_result(("jane@example.com", [1, None]))[0] == ("[REDACTED:email]", [1, None])
    with pytest.raises(RequestError, match="cannot be scanned"):
        r.redact_result({"x": object()})


def test_bad_configuration_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Redactor(detectors=["emal"])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="not a part of the request"):
        Redactor(fields=["action"])
