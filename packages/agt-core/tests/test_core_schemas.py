"""The published JSON Schemas: in step with the models, and saying what the models say.

`_SchemaCheck` is a small validator for exactly the JSON Schema keywords our schemas use (it
refuses any other keyword, so a model change that brings a new one cannot pass unexamined). It
lets the tests compare schema and model on the same documents without a jsonschema dependency.
"""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from typing import Any, ClassVar, get_args

import pytest
from pydantic import BaseModel, ValidationError
from regenerate_schemas import KINDS, Kind, main, path_of, render
from seed_policy import SEED_POLICY

from agt_core import (
    API_VERSION,
    CONFLICT_STRATEGIES,
    STAGES,
    AuditRecord,
    Decision,
    EvaluationRequest,
    MatchedRule,
    PolicyDocument,
    RuleAction,
    json_schema,
)

MODELS: dict[Kind, type[BaseModel]] = {
    "policy": PolicyDocument,
    "request": EvaluationRequest,
    "decision": Decision,
    "audit-record": AuditRecord,
}


# -- the files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_published_schema_matches_the_model(kind: Kind) -> None:
    path = path_of(kind)
    assert path.read_text(encoding="utf-8") == render(kind), (
        f"{path.name} is stale: run python packages/agt-core/tests/regenerate_schemas.py"
    )


def test_regenerate_check_mode_reports_no_drift(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("kind", KINDS)
def test_schema_ships_as_package_data(kind: Kind) -> None:
    text = (resources.files("agt_core") / "schemas" / f"{kind}.schema.json").read_text(encoding="utf-8")
    assert json.loads(text) == json_schema(kind)
    assert text.endswith("}\n")


def test_schema_identity() -> None:
    ids = [json_schema(kind)["$id"] for kind in KINDS]
    assert len(set(ids)) == len(ids)
    for kind in KINDS:
        schema = json_schema(kind)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].startswith("https://")


def test_unknown_kind() -> None:
    with pytest.raises(KeyError):
        json_schema("rule")  # type: ignore[arg-type]


# -- schema says what the model says ------------------------------------------------------------


def _model_for(name: str) -> type[BaseModel]:
    import agt_core

    model: type[BaseModel] = getattr(agt_core, name)
    assert issubclass(model, BaseModel)
    return model


def _object_schemas(kind: Kind) -> list[tuple[type[BaseModel], dict[str, Any]]]:
    schema = json_schema(kind)
    pairs = [(MODELS[kind], schema)]
    pairs += [(_model_for(name), sub) for name, sub in schema.get("$defs", {}).items()]
    return pairs


@pytest.mark.parametrize("kind", KINDS)
def test_properties_and_required_match_the_fields(kind: Kind) -> None:
    for model, schema in _object_schemas(kind):
        fields = {(f.alias or name): f for name, f in model.model_fields.items()}
        assert set(schema["properties"]) == set(fields), model.__name__
        required = {name for name, f in fields.items() if f.is_required()}
        assert set(schema.get("required", [])) == required, model.__name__
        extra = model.model_config.get("extra")
        assert schema.get("additionalProperties", True) is (extra != "forbid"), model.__name__


def _enum_of(prop: dict[str, Any]) -> list[Any]:
    for option in prop.get("anyOf", [prop]):
        if "enum" in option:
            return list(option["enum"])
    raise AssertionError(f"no enum in {prop}")


def test_enumerations_match_the_literal_types() -> None:
    policy = json_schema("policy")
    rule = policy["$defs"]["Rule"]["properties"]
    assert _enum_of(rule["action"]) == list(get_args(RuleAction))
    assert _enum_of(rule["stage"]) == list(STAGES)
    assert _enum_of(policy["properties"]["conflict_strategy"]) == list(CONFLICT_STRATEGIES)
    assert _enum_of(policy["properties"]["default_action"]) == ["allow", "deny"]
    assert policy["properties"]["default_action"]["default"] == "deny"
    assert policy["properties"]["apiVersion"]["const"] == API_VERSION

    decision = json_schema("decision")
    assert _enum_of(decision["properties"]["effect"]) == list(get_args(RuleAction))
    assert _enum_of(decision["properties"]["stage"]) == list(STAGES)
    assert _enum_of(decision["properties"]["conflict_strategy"]) == list(CONFLICT_STRATEGIES)
    assert _enum_of(json_schema("request")["properties"]["stage"]) == list(STAGES)


# -- the same documents through schema and model ------------------------------------------------


class _SchemaCheck:
    IGNORED = frozenset({"$schema", "$id", "$defs", "title", "description", "default"})
    TYPES: ClassVar[dict[str, Any]] = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def valid(self, value: Any, schema: dict[str, Any] | None = None) -> bool:
        schema = self.root if schema is None else schema
        for key, arg in schema.items():
            if key in self.IGNORED:
                continue
            if not self._keyword(key, arg, value, schema):
                return False
        return True

    def _keyword(self, key: str, arg: Any, value: Any, schema: dict[str, Any]) -> bool:
        if key == "$ref":
            assert arg.startswith("#/$defs/")
            return self.valid(value, self.root["$defs"][arg.removeprefix("#/$defs/")])
        if key == "type":
            return bool(self.TYPES[arg](value))
        if key == "enum":
            return any(value == e and type(value) is type(e) for e in arg)
        if key == "const":
            return value == arg and type(value) is type(arg)
        if key == "anyOf":
            return any(self.valid(value, option) for option in arg)
        if key == "pattern":
            # ECMA-262 semantics: `$` is the end of the input, not "before a final newline".
            return not isinstance(value, str) or re.search(arg.replace("$", r"\Z"), value) is not None
        if key == "minLength":
            return not isinstance(value, str) or len(value) >= arg
        if key == "maxLength":
            return not isinstance(value, str) or len(value) <= arg
        if key == "minimum":
            return not isinstance(value, int | float) or isinstance(value, bool) or value >= arg
        if key == "maximum":
            return not isinstance(value, int | float) or isinstance(value, bool) or value <= arg
        if key == "items":
            return not isinstance(value, list) or all(self.valid(v, arg) for v in value)
        if key == "required":
            return not isinstance(value, dict) or all(name in value for name in arg)
        if key == "properties":
            return not isinstance(value, dict) or all(
                self.valid(value[k], s) for k, s in arg.items() if k in value
            )
        if key == "additionalProperties":
            if not isinstance(value, dict):
                return True
            extra = [k for k in value if k not in schema.get("properties", {})]
            if arg is False:
                return not extra
            return arg is True or all(self.valid(value[k], arg) for k in extra)
        raise AssertionError(f"schema keyword `{key}` is not understood by this test; teach _SchemaCheck")


def _accepted_by_model(model: type[BaseModel], document: Any) -> bool:
    try:
        model.model_validate(document)
    except ValidationError:
        return False
    return True


def _variant(change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(SEED_POLICY)
    change(doc)
    return doc


# Documents the model accepts: the schema must accept every one (an editor must not flag a
# policy the toolkit loads).
VALID_POLICIES = {
    "seed": SEED_POLICY,
    "minimal": {"apiVersion": API_VERSION, "name": "p"},
    "everything": {
        "apiVersion": API_VERSION,
        "name": "full",
        "description": "d",
        "default_action": "deny",
        "conflict_strategy": "priority_first_match",
        "agents": ["agent-1"],
        "extends": ["base"],
        "request_schema": {"args": {"amount": "number"}},
        "rules": [
            {
                "name": "r1",
                "description": "x",
                "condition": "args.amount > 100",
                "action": "require_approval",
                "message": "big",
                "priority": 10,
                "approvers": ["finance"],
                "limit": "5/minute",
                "stage": "pre_tool",
                "enabled": False,
            }
        ],
    },
    "extends-one-name": {"apiVersion": API_VERSION, "name": "p", "extends": "base"},
}

# Documents wrong in shape: both must refuse them.
INVALID_POLICIES = {
    "no-api-version": _variant(lambda d: d.pop("apiVersion")),
    "other-api-version": _variant(lambda d: d.update(apiVersion="governance.toolkit/v2")),
    "no-name": _variant(lambda d: d.pop("name")),
    "bad-name": _variant(lambda d: d.update(name="-x")),
    "name-with-final-newline": _variant(lambda d: d.update(name="x\n")),
    "long-name": _variant(lambda d: d.update(name="x" * 129)),
    "unknown-field": _variant(lambda d: d.update(defaultAction="allow")),
    "default-action-approval": _variant(lambda d: d.update(default_action="require_approval")),
    "bad-strategy": _variant(lambda d: d.update(conflict_strategy="first")),
    "rules-not-a-list": _variant(lambda d: d.update(rules={})),
    "rule-unknown-field": _variant(lambda d: d["rules"][0].update(when="x")),
    "rule-no-condition": _variant(lambda d: d["rules"][0].pop("condition")),
    "rule-empty-condition": _variant(lambda d: d["rules"][0].update(condition="")),
    "rule-bad-action": _variant(lambda d: d["rules"][0].update(action="block")),
    "rule-priority-string": _variant(lambda d: d["rules"][0].update(priority="5")),
    "rule-priority-bool": _variant(lambda d: d["rules"][0].update(priority=True)),
    "rule-enabled-string": _variant(lambda d: d["rules"][0].update(enabled="yes")),
    "rule-bad-stage": _variant(lambda d: d["rules"][0].update(stage="post_output")),
    "approvers-not-a-list": _variant(lambda d: d["rules"][1].update(approvers="security-team")),
    "agents-not-a-list": _variant(lambda d: d.update(agents="agent-1")),
}

# Wrong in ways a schema cannot express (relations between fields, the limit grammar): the
# model refuses them; the schema is allowed to miss them.
MODEL_ONLY_RULES = {
    "approvers-on-deny": _variant(lambda d: d["rules"][0].update(approvers=["x"])),
    "limit-on-deny": _variant(lambda d: d["rules"][0].update(limit="1/second")),
    "bad-limit": _variant(lambda d: d["rules"][1].update(limit="10/week")),
    "duplicate-rule-names": _variant(lambda d: d["rules"][1].update(name="block-destructive")),
    "bad-request-schema-type": _variant(lambda d: d.update(request_schema={"args": {"x": "float"}})),
}


@pytest.mark.parametrize("document", list(VALID_POLICIES.values()), ids=list(VALID_POLICIES))
def test_policies_the_model_accepts_the_schema_accepts(document: dict[str, Any]) -> None:
    assert _accepted_by_model(PolicyDocument, document)
    assert _SchemaCheck(json_schema("policy")).valid(document)


@pytest.mark.parametrize("document", list(INVALID_POLICIES.values()), ids=list(INVALID_POLICIES))
def test_policies_wrong_in_shape_are_refused_by_both(document: dict[str, Any]) -> None:
    assert not _accepted_by_model(PolicyDocument, document)
    assert not _SchemaCheck(json_schema("policy")).valid(document)


@pytest.mark.parametrize("document", list(MODEL_ONLY_RULES.values()), ids=list(MODEL_ONLY_RULES))
def test_rules_only_the_model_enforces(document: dict[str, Any]) -> None:
    assert not _accepted_by_model(PolicyDocument, document)
    assert _SchemaCheck(json_schema("policy")).valid(document)


def test_documents_produced_by_the_models_validate() -> None:
    decision = Decision(
        effect="require_approval",
        allowed=False,
        rule="r",
        policy="p",
        policy_hash="sha256:" + "0" * 64,
        matched=(MatchedRule(policy="p", rule="r", action="require_approval", errored=True),),
        approvers=("security-team",),
        conflict_strategy="deny_overrides",
    )
    request = EvaluationRequest.model_validate(
        {
            "action": {"type": "send_email", "tool": "mail"},
            "agent": {"id": "a", "roles": ["x"]},
            "args": {"to": "b"},
        }
    )
    record = AuditRecord(
        seq=0,
        timestamp="2026-01-01T00:00:00.000000Z",
        request=request.to_data(),
        decision=decision,
        prev_hash="0" * 64,
        hash="1" * 64,
    )
    assert _SchemaCheck(json_schema("decision")).valid(json.loads(decision.canonical_json()))
    assert _SchemaCheck(json_schema("request")).valid(request.to_data())
    assert _SchemaCheck(json_schema("audit-record")).valid(record.model_dump(mode="json"))
    assert not _SchemaCheck(json_schema("decision")).valid({"effect": "deny"})
    assert not _SchemaCheck(json_schema("request")).valid({**request.to_data(), "user": "x"})
