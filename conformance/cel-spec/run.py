"""Run the CEL project's own conformance tests against both evaluators' CEL and classify each one.

    python conformance/cel-spec/run.py SUITE.json            # compare with results.json (exit 1 on change)
    python conformance/cel-spec/run.py SUITE.json --write    # rewrite results.json and RESULTS.md

``SUITE.json`` is the ``tests`` object of ``@bufbuild/cel-spec``'s ``dist/esm/testdata/conformance.js``
(the cel-spec repository's ``tests/simple/testdata/*.textproto``, converted by Buf to the
protobuf JSON of ``cel.expr.conformance.test.SimpleTest``); ``./dev -s cel_spec`` fetches the
pinned package and writes it. Each test's expression is compiled and evaluated directly:

- python: ``agent_os._cel.compile_condition`` and ``Program.evaluate`` (the pure-Python evaluator's
  condition compiler, internal);
- native: ``agt_engine::cel::compile_condition`` and ``Program::evaluate`` in the engine crate,
  through ``crates/agt-engine/tests/cel_spec.rs`` (``cargo test --test cel_spec``).

A test's bound variables become keys of ``context`` (the expression's free name ``x`` is
rewritten to ``context.x``), since a condition may only read the request's roots. Every test is
classified, per evaluator:

- ``pass``: the expected value (same type: an int is not a double) or an expected error;
- ``deviation:<rule>``: our documented deviation decides differently (the kinds rule: comparing
  values of different kinds is an error where CEL answers false/true);
- ``unsupported:<feature>``: the test needs something we do not support (uint, bytes, timestamps,
  protocol-buffer messages, an extension function ...), seen in its values or in the compile
  error our compiler gives; an expected error that we raise only because the feature is missing
  counts here, not as a pass;
- ``fail``: anything else. Fixing the bug moves it to pass; results.json pins every class, so a
  change in either direction fails the run until results.json is regenerated deliberately.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# AGT_ENGINE_DIR: another checkout of packages/agt-evaluator to run the engine from.
ENGINE = Path(os.environ.get("AGT_ENGINE_DIR") or ROOT / "packages" / "agt-evaluator")
RESULTS_JSON = HERE / "results.json"
RESULTS_MD = HERE / "RESULTS.md"
PACKAGE = "@bufbuild/cel-spec"


class Unsupported(Exception):
    """The test needs a feature our conditions do not have."""


# -- values: protobuf JSON of cel.expr.Value -> Python (as our evaluators hold them) -----------------


def _object_feature(value: dict[str, Any]) -> str:
    kind = str(value.get("@type", ""))
    if kind.endswith("google.protobuf.Timestamp"):
        return "timestamps"
    if kind.endswith("google.protobuf.Duration"):
        return "durations"
    if "google.protobuf." in kind:
        return "protobuf well-known types"
    return "protobuf messages"


def to_python(value: dict[str, Any]) -> Any:
    """A cel.expr.Value as the JSON-shaped Python value our evaluators use."""
    if "nullValue" in value:
        return None
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "int64Value" in value:
        return int(value["int64Value"])
    if "doubleValue" in value:
        return float(value["doubleValue"])  # "NaN", "Infinity", "-Infinity" read as floats
    if "stringValue" in value:
        return str(value["stringValue"])
    if "listValue" in value:
        return [to_python(item) for item in value["listValue"].get("values", [])]
    if "mapValue" in value:
        out: dict[str, Any] = {}
        for entry in value["mapValue"].get("entries", []):
            key = to_python(entry["key"])
            if type(key) is not str:
                raise Unsupported("non-string map keys")
            out[key] = to_python(entry["value"])
        return out
    if "uint64Value" in value:
        raise Unsupported("uint")
    if "bytesValue" in value:
        raise Unsupported("bytes")
    if "enumValue" in value:
        raise Unsupported("protobuf enums")
    if "typeValue" in value:
        raise Unsupported("type values")
    if "objectValue" in value:
        raise Unsupported(_object_feature(value["objectValue"]))
    raise Unsupported(f"value {sorted(value)}")


def tagged(value: Any) -> dict[str, Any]:
    """Tagged JSON for the engine (keeps int and double apart, carries NaN and infinities)."""
    if value is None:
        return {"t": "null"}
    if type(value) is bool:
        return {"t": "bool", "v": value}
    if type(value) is int:
        return {"t": "int", "v": value}
    if type(value) is float:
        return {"t": "double", "v": repr(value).replace("nan", "NaN").replace("inf", "Infinity")}
    if type(value) is str:
        return {"t": "string", "v": value}
    if type(value) is list:
        return {"t": "list", "v": [tagged(item) for item in value]}
    return {"t": "map", "v": [[key, tagged(item)] for key, item in value.items()]}


def untagged(value: dict[str, Any]) -> Any:
    kind, inner = value["t"], value.get("v")
    if kind == "double":
        return float(inner)
    if kind == "list":
        return [untagged(item) for item in inner]
    if kind == "map":
        return {key: untagged(item) for key, item in inner}
    return inner


def same(left: Any, right: Any) -> bool:
    """CEL value equality as the conformance suite means it: same type, NaN equal to NaN."""
    if type(left) is not type(right):
        return False
    if type(left) is float:
        return (math.isnan(left) and math.isnan(right)) or left == right
    if type(left) is list:
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    if type(left) is dict:
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    return bool(left == right)


# -- mapping a test onto a condition ----------------------------------------------------------------


def rewrite(expr: str, names: set[str]) -> str:
    """`expr` with each free use of a bound name `x` read as `context.x`."""
    if not names:
        return expr
    from agent_os._cel._lexer import tokenize

    try:
        tokens = tokenize(expr)
    except Exception:
        return expr  # it does not lex: the compile error will say why
    out, last, previous = [], 0, None
    for token in tokens:
        if token.kind == "ident" and token.value in names and (previous is None or previous.kind != "."):
            out.append(expr[last : token.offset])
            out.append(f"context.{token.value}")
            last = token.offset + len(token.value)
        previous = token
    out.append(expr[last:])
    return "".join(out)


def expectation(test: dict[str, Any]) -> tuple[str, Any]:
    """``("value", v)``, ``("error", None)`` or ``("none", None)`` (a type-checker-only test)."""
    if "evalError" in test:
        return "error", None
    if "value" in test:
        return "value", test["value"]
    if "typedResult" in test and "result" in test["typedResult"]:
        return "value", test["typedResult"]["result"]
    return "none", None


# Compile errors of our compilers that mean "a feature we do not have", and the feature.
_FUNCTION_FEATURES = {
    "timestamp": "timestamps",
    "duration": "durations",
    "type": "type values",
    "dyn": "dyn()",
    "uint": "uint",
    "bytes": "bytes",
    "bool": "bool() conversion",
    "getDate": "timestamps",
}
_TYPE_NAMES = {"int", "uint", "double", "string", "bool", "bytes", "list", "map", "null_type", "type", "dyn"}


def feature_of(message: str) -> str | None:
    """The missing feature a compile error names, if it names one."""
    if "unsigned integers" in message:
        return "uint"
    if "bytes literals" in message:
        return "bytes"
    if found := re.match(r"unknown function `([^`]+)`", message):
        name = found.group(1)
        return _FUNCTION_FEATURES.get(name, f"function {name}()")
    if found := re.match(r"unknown method `([^`]+)`", message):
        name = found.group(1)
        return _FUNCTION_FEATURES.get(name, f"extension method .{name}()")
    if found := re.match(r"unknown variable `([^`]+)`", message):
        name = found.group(1)
        if name in _TYPE_NAMES:
            return "type values"
        return "qualified names (protobuf packages, enums, containers)"
    if found := re.match(r"`(exists|all)` takes 2 arguments, got 3", message):
        return "two-variable comprehensions"
    if "unexpected character ``" in message:
        return "backtick-quoted field names"
    if "found `{`" in message:
        return "protobuf message construction"
    if "found `?`" in message or "`?.`" in message:
        return "optional values (.?, ?.)"
    if "map keys must be strings" in message:
        return "non-string map keys"
    if "unexpected `{`" in message:
        return "protobuf message construction"
    if "cannot start with `.`" in message:
        return "leading-dot names"
    return None


_KINDS = "values of different kinds are neither equal nor unequal"


def classify(
    kind: str, expected: Any, outcome: dict[str, Any], features: list[str], unchecked: bool = False
) -> str:
    result = outcome["outcome"]
    if result == "compile_error" and unchecked and outcome["message"].startswith("unknown "):
        # the test turns CEL's checker off and expects an undeclared name to fail (or be skipped)
        # at run time; our compilers always check names when the policy loads
        return "pass" if kind == "error" else "deviation:names-checked-at-load"
    if result == "compile_error":
        feature = feature_of(outcome["message"])
        if feature is not None:
            return f"unsupported:{feature}"
        if "is always false" in outcome["message"] or "is always true" in outcome["message"]:
            return "deviation:empty-list-in"
    if kind == "error" and result != "value":
        return "pass"
    if kind == "value" and result == "value" and same(outcome["value"], expected):
        return "pass"
    if features:
        return f"unsupported:{features[0]}"
    if kind == "value" and result == "eval_error" and _KINDS in outcome["message"]:
        return "deviation:kinds"
    return "fail"


# -- running ----------------------------------------------------------------------------------------


def flatten(suite: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(file, id, SimpleTest)`` for every test, in suite order."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    for file in suite["suites"]:
        for section in file.get("suites", []):
            seen: Counter[str] = Counter()
            for test in section.get("tests", []):
                original = test["original"]
                name = original.get("name") or original["expr"]
                seen[name] += 1  # a few sections repeat a name: keep every test
                suffix = f"#{seen[name]}" if seen[name] > 1 else ""
                found.append((file["name"], f"{file['name']}/{section['name']}/{name}{suffix}", original))
        for test in file.get("tests", []):
            original = test["original"]
            found.append((file["name"], f"{file['name']}/{original.get('name')}", original))
    return found


def prepare(test: dict[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
    """The rewritten expression, the activation, and features the test's values need.

    Raises:
        Unsupported: If a binding cannot be held by our evaluators at all.
    """
    bindings: dict[str, Any] = {}
    for name, bound in test.get("bindings", {}).items():
        if "value" not in bound:
            raise Unsupported("unknown and error bindings")
        if "." in name:
            raise Unsupported("qualified names (protobuf packages, enums, containers)")
        bindings[name] = to_python(bound["value"])
    expr = rewrite(test["expr"], set(bindings))
    return expr, {"context": bindings}, static_features(test["expr"])


def static_features(expr: str) -> list[str]:
    """Extensions a test uses that our compilers may reject with a generic syntax error."""
    found = []
    if re.search(r"\bcel\.(block|index|iterVar|bind)\b", expr):
        found.append("cel.bind and cel.block extensions")
    if re.search(r"\boptional\.|\.\?|\[\?", expr):
        found.append("optional values (.?, ?.)")
    return found


def run_python(expr: str, activation: dict[str, Any]) -> dict[str, Any]:
    from agent_os._cel import CelEvalError, CelSyntaxError, compile_condition

    try:
        program = compile_condition(expr)
    except CelSyntaxError as exc:
        return {"outcome": "compile_error", "message": exc.message}
    try:
        return {"outcome": "value", "value": program.evaluate(activation)}
    except CelEvalError as exc:
        return {"outcome": "eval_error", "message": exc.message}


def run_native(cases: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.json", Path(tmp) / "out.json"
        source.write_text(json.dumps(cases), encoding="utf-8")
        env = {**os.environ, "AGT_CEL_SPEC_IN": str(source), "AGT_CEL_SPEC_OUT": str(target)}
        subprocess.run(
            ["cargo", "test", "--quiet", "-p", "agt-engine", "--test", "cel_spec"],
            cwd=ENGINE,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        results = json.loads(target.read_text(encoding="utf-8"))
    out = {}
    for result in results:
        if result["outcome"] == "value":
            result["value"] = untagged(result["value"])
        out[result["id"]] = result
    return out


def evaluate_all(suite: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every test's classification for python and native, with its file and what went wrong."""
    tests = flatten(suite)
    rows: dict[str, dict[str, Any]] = {}
    native_cases = []
    pending: dict[str, tuple[str, Any, list[str], bool]] = {}
    for file, test_id, test in tests:
        row: dict[str, Any] = {"file": file}
        rows[test_id] = row
        kind, expected_raw = expectation(test)
        if test.get("checkOnly") or kind == "none":
            row["python"] = row["native"] = "unsupported:type-checker test (no evaluation)"
            continue
        try:
            expected = to_python(expected_raw) if kind == "value" else None
            expr, activation, features = prepare(test)
        except Unsupported as exc:
            row["python"] = row["native"] = f"unsupported:{exc}"
            continue
        outcome = run_python(expr, activation)
        unchecked = bool(test.get("disableCheck"))
        row["python"] = classify(kind, expected, outcome, features, unchecked)
        if row["python"] != "pass":
            row["python_got"] = _describe(outcome)
        pending[test_id] = (kind, expected, features, unchecked)
        native_cases.append({"id": test_id, "expr": expr, "activation": tagged(activation)})
    native = run_native(native_cases)
    for test_id, (kind, expected, features, unchecked) in pending.items():
        outcome = native[test_id]
        rows[test_id]["native"] = classify(kind, expected, outcome, features, unchecked)
        if rows[test_id]["native"] != "pass":
            rows[test_id]["native_got"] = _describe(outcome)
    return rows


def _describe(outcome: dict[str, Any]) -> str:
    if outcome["outcome"] == "value":
        return f"value {json.dumps(outcome['value'], default=str)[:120]}"
    return f"{outcome['outcome']}: {outcome['message'][:160]}"


# -- reporting --------------------------------------------------------------------------------------


def render(rows: dict[str, dict[str, Any]], version: str) -> str:
    per_file: dict[str, Counter[str]] = defaultdict(Counter)
    features: Counter[str] = Counter()
    for row in rows.values():
        cls = row["python"]
        per_file[row["file"]][cls.split(":")[0]] += 1
        if cls.startswith("unsupported:"):
            features[cls.split(":", 1)[1]] += 1
    disagree = [test_id for test_id, row in rows.items() if row["python"] != row["native"]]
    total: Counter[str] = Counter()
    lines = [
        "# CEL conformance results",
        "",
        f"Generated by `./dev -s cel_spec -- --write` from `{PACKAGE}@{version}` (the cel-spec",
        "repository's `tests/simple/testdata/*.textproto`). Do not edit by hand. How tests are mapped",
        "and classified: `conformance/cel-spec/run.py`; what the classes mean: `docs/conditions.md`.",
        "",
        f"Both evaluators classify every test identically: {'yes' if not disagree else 'NO'} "
        f"({len(rows)} tests; python and native differ on {len(disagree)}).",
        "",
        "| file | tests | pass | deviation | unsupported | fail | pass rate of the tests run |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for file in sorted(per_file):
        c = per_file[file]
        total.update(c)
        lines.append(_row(file, c))
    lines.append(_row("**all**", total))
    lines += [
        "",
        "`pass rate of the tests run` = pass / (pass + deviation + fail): the tests of features we support.",
        "",
    ]
    lines += ["## Unsupported features (tests)", "", "| feature | tests |", "| --- | ---: |"]
    lines += [f"| {feature} | {count} |" for feature, count in features.most_common()]
    for title, prefix in (("Deliberate deviations", "deviation"), ("Failures", "fail")):
        chosen = [(test_id, row) for test_id, row in rows.items() if row["python"].startswith(prefix)]
        lines += ["", f"## {title} ({len(chosen)})", ""]
        if not chosen:
            lines.append("None.")
        for test_id, row in chosen:
            lines.append(f"- `{test_id}` ({row['python']}): {row.get('python_got', '')}")
    if disagree:
        lines += ["", "## Python and native disagree", ""]
        lines += [f"- `{t}`: python {rows[t]['python']}, native {rows[t]['native']}" for t in disagree]
    return "\n".join(lines) + "\n"


def _row(name: str, c: Counter[str]) -> str:
    run = c["pass"] + c["deviation"] + c["fail"]
    rate = f"{100 * c['pass'] / run:.1f}%" if run else "-"
    tests = sum(c.values())
    return (
        f"| {name} | {tests} | {c['pass']} | {c['deviation']} | {c['unsupported']} | {c['fail']} | {rate} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path, help="the cel-spec conformance suite as JSON")
    parser.add_argument("--version", default="?", help=f"the {PACKAGE} version the suite came from")
    parser.add_argument("--write", action="store_true", help="rewrite results.json and RESULTS.md")
    args = parser.parse_args(argv)
    rows = evaluate_all(json.loads(args.suite.read_text(encoding="utf-8")))
    pinned = {test_id: {"python": row["python"], "native": row["native"]} for test_id, row in rows.items()}
    report = render(rows, args.version)
    if args.write:
        RESULTS_JSON.write_text(json.dumps(pinned, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        RESULTS_MD.write_text(report, encoding="utf-8")
        print(f"wrote {RESULTS_JSON.relative_to(ROOT)} and {RESULTS_MD.relative_to(ROOT)}")
    print(report.split("\n## ")[0])
    if args.write:
        return 0
    known = json.loads(RESULTS_JSON.read_text(encoding="utf-8")) if RESULTS_JSON.exists() else {}
    changed = [t for t in sorted(set(known) | set(pinned)) if known.get(t) != pinned.get(t)]
    disagree = [t for t, row in pinned.items() if row["python"] != row["native"]]
    for test_id in changed[:50]:
        print(f"changed: {test_id}: pinned {known.get(test_id)}, now {pinned.get(test_id)}", file=sys.stderr)
    for test_id in disagree:
        print(f"python and native disagree: {test_id}: {pinned[test_id]}", file=sys.stderr)
    if changed:
        print(f"{len(changed)} classifications changed: fix them, or rerun with --write", file=sys.stderr)
    return 1 if changed or disagree else 0


if __name__ == "__main__":
    sys.exit(main())
