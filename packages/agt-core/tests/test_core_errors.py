"""The error hierarchy: shape, messages and the context each error carries."""

from __future__ import annotations

import pickle
import warnings

import pytest

import agt_core
from agt_core import (
    ApprovalError,
    AuditError,
    AuditIntegrityError,
    AuditWriteError,
    CanonicalJSONError,
    Decision,
    EnforcementError,
    GovernanceDenied,
    GovernanceError,
    PolicyError,
    PolicyWarning,
    RequestError,
)
from agt_core import _errors as errors_module

ERRORS = [
    GovernanceError,
    PolicyError,
    RequestError,
    CanonicalJSONError,
    GovernanceDenied,
    ApprovalError,
    AuditError,
    AuditIntegrityError,
    AuditWriteError,
    EnforcementError,
]


def _assert_message_style(text: str) -> None:
    assert "\n" not in text
    assert text == text.strip()
    assert not text[0].isupper()
    assert not text.endswith(".")


@pytest.mark.parametrize("cls", ERRORS)
def test_every_error_is_a_governance_error(cls: type[Exception]) -> None:
    assert issubclass(cls, GovernanceError)
    assert issubclass(cls, Exception)


def test_tree_shape() -> None:
    parents = {cls: cls.__bases__ for cls in ERRORS}
    assert parents[GovernanceError] == (Exception,)
    assert parents[AuditIntegrityError] == (AuditError,)
    assert parents[AuditWriteError] == (AuditError,)
    assert not issubclass(AuditIntegrityError, AuditWriteError)  # a failed check is not a failed write
    assert parents[GovernanceDenied] == parents[ApprovalError] == (EnforcementError,)
    for cls in [PolicyError, RequestError, CanonicalJSONError, EnforcementError, AuditError]:
        assert parents[cls] == (GovernanceError,)


def test_policy_warning_is_a_warning_not_an_error() -> None:
    assert issubclass(PolicyWarning, UserWarning)
    assert not issubclass(PolicyWarning, GovernanceError)
    with pytest.warns(PolicyWarning, match="field `x`"):
        warnings.warn("field `x` is not in request_schema", PolicyWarning, stacklevel=1)


def test_the_drawn_tree_names_every_error() -> None:
    doc = errors_module.__doc__ or ""
    for name in errors_module.__all__:
        assert name in doc, f"{name} is missing from the tree in agt_core._errors"
    assert set(errors_module.__all__) == {cls.__name__ for cls in ERRORS} | {"PolicyWarning"}


def test_every_error_is_exported() -> None:
    for cls in [*ERRORS, PolicyWarning]:
        assert getattr(agt_core, cls.__name__) is cls
        assert cls.__name__ in agt_core.__all__


# -- GovernanceError ----------------------------------------------------------------------------


def test_message_and_help() -> None:
    err = GovernanceError("something `x` failed", help="try `y`")
    assert err.message == "something `x` failed"
    assert err.help == "try `y`"
    assert str(err) == "something `x` failed\n  help: try `y`"
    assert err.args == ("something `x` failed",)


def test_no_help() -> None:
    err = RequestError("request is too deep")
    assert err.help is None
    assert str(err) == err.message == "request is too deep"


# -- PolicyError --------------------------------------------------------------------------------


def test_policy_error_with_full_location() -> None:
    err = PolicyError(
        "unknown field `when`",
        file="policy.yaml",
        line=12,
        column=5,
        path="rules[1]",
        expected="one of name, condition, action",
        help="did you mean `condition`?",
    )
    assert (
        err.message
        == "policy.yaml:12:5: rules[1]: unknown field `when` (expected one of name, condition, action)"
    )
    assert str(err) == err.message + "\n  help: did you mean `condition`?"
    assert (err.file, err.line, err.column, err.path) == ("policy.yaml", 12, 5, "rules[1]")
    assert err.expected == "one of name, condition, action"
    assert err.reason == "unknown field `when`"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"file": "p.yaml"}, "p.yaml: bad"),
        ({"file": "p.yaml", "line": 3}, "p.yaml:3: bad"),
        ({"line": 3, "column": 9}, "<policy>:3:9: bad"),
        ({"file": "p.yaml", "column": 9}, "p.yaml: bad"),  # a column without a line says nothing
        ({}, "<policy>: bad"),
        ({"path": "rules[0].action"}, "<policy>: rules[0].action: bad"),
    ],
)
def test_policy_error_location_forms(kwargs: dict[str, object], expected: str) -> None:
    err = PolicyError("bad", **kwargs)  # type: ignore[arg-type]
    assert err.message == expected
    _assert_message_style(err.message)


# -- GovernanceDenied ---------------------------------------------------------------------------


def test_denied_names_rule_policy_and_message() -> None:
    decision = Decision(
        effect="deny",
        allowed=False,
        rule="block-destructive",
        policy="production-policy",
        message="destructive actions need a change ticket",
    )
    err = GovernanceDenied(decision)
    assert err.decision is decision
    assert err.approval is None
    assert "block-destructive" in err.message
    assert "production-policy" in err.message
    assert err.message.endswith(": destructive actions need a change ticket")
    assert err.message.index("block-destructive") < err.message.index("production-policy")
    _assert_message_style(err.message)
    assert isinstance(err, GovernanceError)


def test_denied_by_default() -> None:
    err = GovernanceDenied(Decision(effect="deny", allowed=False, policy="production-policy"))
    assert err.message.startswith("action denied")
    assert "production-policy" in err.message
    assert "rule" not in err.message
    assert GovernanceDenied(Decision(effect="deny", allowed=False)).message == "action denied"


def test_denied_carries_the_approval() -> None:
    decision = Decision(effect="require_approval", allowed=False, rule="send", approvers=("security-team",))
    approval = object()
    err = GovernanceDenied(decision, approval=approval)
    assert err.approval is approval
    assert "send" in err.message


def test_denied_is_caught_as_governance_error() -> None:
    with pytest.raises(GovernanceError) as info:
        raise GovernanceDenied(Decision(effect="deny", allowed=False, rule="r"))
    assert isinstance(info.value, GovernanceDenied)
    assert info.value.decision.rule == "r"


# -- AuditIntegrityError ------------------------------------------------------------------------


def test_audit_integrity_error_names_the_record() -> None:
    err = AuditIntegrityError("record 7 does not match its hash", index=7, help="restore from a copy")
    assert err.index == 7
    assert isinstance(err, AuditError)
    assert err.help == "restore from a copy"
    assert AuditIntegrityError("trail is empty").index is None


# -- crossing process boundaries ----------------------------------------------------------------


def test_plain_errors_survive_pickling() -> None:
    err = pickle.loads(pickle.dumps(RequestError("request is too deep")))
    assert isinstance(err, RequestError)
    assert err.message == "request is too deep"


def test_denied_survives_pickling() -> None:
    err = GovernanceDenied(Decision(effect="deny", allowed=False, rule="r"))
    back = pickle.loads(pickle.dumps(err))
    assert back.decision == err.decision
    assert back.message == err.message


def test_policy_error_survives_pickling() -> None:
    err = PolicyError("bad", file="p.yaml", line=1, column=2)
    back = pickle.loads(pickle.dumps(err))
    assert (back.message, back.file, back.line, back.column) == (err.message, "p.yaml", 1, 2)
