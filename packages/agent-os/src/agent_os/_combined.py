"""One policy set over YAML, Rego and Cedar policies: one decision per request.

`compile_policies` routes here when a source names a ``.rego`` or ``.cedar`` file, or a folder
holding one. The YAML policies compile through the selected evaluator (native or python) into
one policy set; each Rego and Cedar file compiles once in its own engine (`agent_os._rego`,
`agent_os._cedar`). `CombinedPolicySet.evaluate` asks every part and keeps the most restrictive
decision (`agt_core.EFFECT_SEVERITY`), exactly as across several YAML policies; ties go to the
earlier policy, the YAML policies first, then the Rego and Cedar files in source order (folders
sorted by file name). The result carries every part's matched rules and errors, and the
combined set's hash, which covers the Rego and Cedar sources.

Rego and Cedar policies decide the ``pre_tool`` stage; other stages are decided by the YAML
policies alone (a set without YAML policies denies them).

Importing this module loads neither engine: `agent_os._rego` and `agent_os._cedar` (and with
them `regopy`/`cedarpy`) load only when a ``.rego`` or ``.cedar`` file is compiled.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from agent_os._engine_part import REGO_DATA_SUFFIXES, EnginePart
from agent_os._loading import POLICY_FILE_SUFFIXES, PolicySource, load_policies
from agt_core import EFFECT_SEVERITY, Decision, Evaluator, PolicyError, PolicySet, policy_set_hash

__all__ = ["ENGINE_SUFFIXES", "CombinedPolicySet", "compile_mixed", "names_engine_policies"]

ENGINE_SUFFIXES = (".rego", ".cedar")
"""Files compiled by a foreign engine rather than the YAML loader."""


def _path(item: object) -> str | None:
    if isinstance(item, os.PathLike):
        path = os.fspath(item)
        return path if isinstance(path, str) else None
    if isinstance(item, str) and "\n" not in item and "\r" not in item and not item.startswith("{"):
        return item
    return None


def _engine_file(name: str) -> bool:
    return name.lower().endswith(ENGINE_SUFFIXES)


def _rego_data(path: str) -> bool:
    """Whether `path` is the data document of a Rego module beside it."""
    lowered = path.lower()
    for suffix in REGO_DATA_SUFFIXES:
        if lowered.endswith(suffix) and os.path.isfile(path[: -len(suffix)] + ".rego"):
            return True
    return False


def names_engine_policies(source: object) -> bool:
    """Whether `source` names a ``.rego``/``.cedar`` file or a folder holding one (cheap: no engine import)."""
    items = source if isinstance(source, (list, tuple)) else [source]
    for item in items:
        path = _path(item)
        if path is None:
            continue
        if _engine_file(path):
            return True
        if os.path.isdir(path) and any(_engine_file(name) for name in os.listdir(path)):
            return True
    return False


def compile_mixed(
    source: PolicySource,
    evaluator: Evaluator,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    strict: bool = False,
    lint: bool = True,
) -> CombinedPolicySet:
    """Compile YAML, Rego and Cedar sources into one `CombinedPolicySet`.

    Raises:
        PolicyError: For every policy that cannot be loaded (file and line where the engine
            gives them), or two policies with the same name.
    """
    yaml_items: list[Any] = []
    engine_paths: list[str] = []
    for item in source if isinstance(source, (list, tuple)) else [source]:
        path = _path(item)
        if path is not None and os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                full = os.path.join(path, name)
                if os.path.isdir(full):
                    continue
                if _engine_file(name):
                    engine_paths.append(full)
                elif _rego_data(full):
                    continue  # read by its module (agent_os._rego.data_documents)
                elif name.lower().endswith(POLICY_FILE_SUFFIXES):
                    yaml_items.append(full)
        elif path is not None and _engine_file(path):
            engine_paths.append(path)
        else:
            yaml_items.append(item)
    problems: list[PolicyError] = []
    yaml_set: PolicySet | None = None
    if yaml_items:
        try:
            yaml_set = evaluator.compile(
                load_policies(yaml_items, base_dir=base_dir, strict=strict, lint=lint)
            )
        except PolicyError as exc:
            problems.append(exc)
    parts: list[EnginePart] = []
    for path in engine_paths:
        try:
            parts.append(_load_part(path))
        except PolicyError as exc:
            problems.append(exc)
    if problems:
        from agent_os._loading._problems import combine

        raise combine(problems)
    seen = set(yaml_set.policy_names if yaml_set is not None else ())
    for path, part in zip(engine_paths, parts, strict=True):
        if part.name in seen:
            raise PolicyError(
                f"two policies are named `{part.name}`",
                file=path,
                help="policy names must be unique in one policy set (a Rego package, a Cedar file name)",
            )
        seen.add(part.name)
    return CombinedPolicySet(yaml_set, parts, evaluator=getattr(yaml_set, "evaluator", evaluator.name))


def _load_part(path: str) -> EnginePart:
    if path.lower().endswith(".rego"):
        from agent_os._rego import load_rego

        return load_rego(path)
    from agent_os._cedar import load_cedar

    return load_cedar(path)


class CombinedPolicySet:
    """YAML, Rego and Cedar policies under one decision (see the module docstring)."""

    def __init__(self, yaml_set: PolicySet | None, parts: Sequence[EnginePart], *, evaluator: str) -> None:
        self._yaml = yaml_set
        self._parts = tuple(parts)
        self._evaluator = evaluator
        hashes: dict[str, str] = dict(yaml_set.policy_hashes) if yaml_set is not None else {}
        names = list(yaml_set.policy_names) if yaml_set is not None else []
        for part in self._parts:
            names.append(part.name)
            hashes[part.name] = part.content_hash
        self._names = tuple(names)
        self._hashes = hashes
        self._hash = policy_set_hash([(name, hashes[name]) for name in names])
        self._rank = {name: index for index, name in enumerate(names)}
        # What a decision no part could make names as its evaluator: every part's engine.
        self._evaluators = "+".join(dict.fromkeys(part.evaluator for part in self._parts)) or evaluator

    @property
    def hash(self) -> str:
        """``sha256:<hex>`` over (name, hash) of every policy, Rego and Cedar sources included."""
        return self._hash

    @property
    def evaluator(self) -> str:
        """The evaluator that compiled the YAML policies."""
        return self._evaluator

    @property
    def policy_names(self) -> tuple[str, ...]:
        """YAML policy names, then Rego packages and Cedar file names, in load order."""
        return self._names

    @property
    def policy_hashes(self) -> Mapping[str, str]:
        """Policy name -> content hash (a Rego or Cedar policy's: of its source text)."""
        return self._hashes

    @property
    def stages(self) -> frozenset[str]:
        """The YAML policies' stages, plus ``pre_tool`` where Rego and Cedar policies decide."""
        stages = set(self._yaml.stages) if self._yaml is not None else set()
        if self._parts:
            stages.add("pre_tool")
        return frozenset(stages)

    @property
    def limits(self) -> Mapping[tuple[str, str], str]:
        """Rate limits of the YAML rules (Rego and Cedar policies declare none)."""
        return self._yaml.limits if self._yaml is not None else {}

    @property
    def warnings(self) -> tuple[str, ...]:
        """Warnings raised while the YAML policies were loaded."""
        return self._yaml.warnings if self._yaml is not None else ()

    def evaluate(self, request: Mapping[str, Any]) -> Decision:
        """Every part decides; the most restrictive decision wins (ties: the earlier policy)."""
        decisions: list[Decision] = []
        if self._yaml is not None:
            decisions.append(self._yaml.evaluate(request))
        if request.get("stage", "pre_tool") == "pre_tool":
            decisions.extend(part.evaluate(request) for part in self._parts)
        if not decisions:
            return Decision(
                effect="deny",
                allowed=False,
                stage=request.get("stage", "pre_tool"),
                policy_set_hash=self._hash,
                message="no YAML policy decides this stage; Rego and Cedar policies decide pre_tool only",
                evaluator=self._evaluators,
            )
        winner = min(
            decisions,
            key=lambda d: (-EFFECT_SEVERITY[d.effect], self._rank.get(d.policy or "", len(self._rank))),
        )
        if len(decisions) == 1:
            return winner.model_copy(update={"policy_set_hash": self._hash})
        return winner.model_copy(
            update={
                "evaluator": "+".join(dict.fromkeys(d.evaluator for d in decisions if d.evaluator)) or None,
                "policy_set_hash": self._hash,
                "matched": tuple(m for d in decisions for m in d.matched),
                "errors": tuple(e for d in decisions for e in d.errors),
            }
        )
