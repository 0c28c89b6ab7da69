"""The ``k8s`` facts of a kubectl command line: what the API server will be asked to do.

A tool that runs ``kubectl`` declares ``facets={"k8s": {"command": "<argument>"}}`` (the argument a
command line string or an argv list). The command is read as kubectl reads it, and anything this
reading cannot place makes the facts, or the one fact it concerns, unreadable (fail closed):

* an unknown flag (it may or may not take a value, so the words after it cannot be placed),
  ``-f``/``--filename`` and ``-k`` (the resources are in files), a subcommand not in the table below;
* no ``-n``/``--namespace``: kubectl then uses the kubeconfig context's namespace, which the command
  does not show, so ``namespace`` is unreadable; ``-A``/``--all-namespaces`` touches every
  namespace, so it is unreadable too. ``kubectl get nodes`` (cluster-scoped) has ``''``.

Subcommands map to the API verb they cause: ``get``/``describe`` -> ``get`` with a name, ``list``
without (``watch`` with ``-w``); ``delete`` -> ``delete``, or ``deletecollection`` without a name
(``--all``, ``-l``); ``create``/``run``/``expose`` -> ``create``; ``apply``/``edit``/``patch``/
``label``/``annotate``/``scale``/``set``/``rollout``/``autoscale``/``cordon``/``uncordon``/
``drain``/``taint`` -> ``patch`` (``drain`` also evicts); ``replace`` -> ``update``; ``exec``/``cp``
-> ``create`` on ``pods/exec``, ``attach`` on ``pods/attach``, ``port-forward`` on
``pods/portforward``, ``logs`` -> ``get`` on ``pods/log``. ``k8s.command`` holds the subcommand.
"""

from __future__ import annotations

import shlex
from typing import Any

__all__ = ["kubectl_facets"]

_VALUE_FLAGS = frozenset(
    {
        "-n", "--namespace", "--context", "--cluster", "--kubeconfig", "--user", "-l", "--selector",
        "-o", "--output", "-c", "--container", "--field-selector", "--as", "--as-group", "-s",
        "--server", "--token", "--request-timeout", "--grace-period", "--timeout", "-p", "--patch",
        "--type", "--replicas", "--image", "--port", "--sort-by", "--since", "--tail", "--limit",
        "--field-manager", "--template", "-L", "--label-columns", "--subresource",
    }
)  # fmt: skip
_BOOL_FLAGS = frozenset(
    {
        "-A", "--all-namespaces", "--all", "-i", "-t", "-it", "-ti", "--stdin", "--tty", "-w",
        "--watch", "--watch-only", "--force", "--dry-run", "-R", "--recursive", "--wait", "--now",
        "--ignore-not-found", "--overwrite", "--record", "--show-labels", "--no-headers", "-q",
        "--quiet", "--previous", "--follow", "--server-side", "--ignore-daemonsets",
        "--delete-emptydir-data", "--local",
    }
)  # fmt: skip
_FILE_FLAGS = frozenset({"-f", "--filename", "-k", "--kustomize"})
_PATCHES = frozenset(
    {"apply", "edit", "patch", "label", "annotate", "scale", "set", "rollout", "autoscale", "cordon"}
    | {"uncordon", "drain", "taint"}
)
_CREATES = frozenset({"create", "run", "expose"})
_POD_SUBRESOURCES = {
    "exec": ("create", "exec"),
    "cp": ("create", "exec"),
    "attach": ("create", "attach"),
    "port-forward": ("create", "portforward"),
    "logs": ("get", "log"),
}
_NODE_COMMANDS = frozenset({"cordon", "uncordon", "drain", "taint"})
_ALIASES = {
    "po": "pods", "pod": "pods", "svc": "services", "service": "services", "deploy": "deployments",
    "deployment": "deployments", "ns": "namespaces", "namespace": "namespaces", "cm": "configmaps",
    "configmap": "configmaps", "secret": "secrets", "no": "nodes", "node": "nodes",
    "sts": "statefulsets", "statefulset": "statefulsets", "ds": "daemonsets", "daemonset": "daemonsets",
    "rs": "replicasets", "replicaset": "replicasets", "ing": "ingresses", "ingress": "ingresses",
    "pvc": "persistentvolumeclaims", "persistentvolumeclaim": "persistentvolumeclaims",
    "pv": "persistentvolumes", "persistentvolume": "persistentvolumes", "sa": "serviceaccounts",
    "serviceaccount": "serviceaccounts", "cj": "cronjobs", "cronjob": "cronjobs", "job": "jobs",
    "role": "roles", "rolebinding": "rolebindings", "clusterrole": "clusterroles",
    "clusterrolebinding": "clusterrolebindings", "crd": "customresourcedefinitions", "ep": "endpoints",
    "hpa": "horizontalpodautoscalers", "netpol": "networkpolicies", "pdb": "poddisruptionbudgets",
    "sc": "storageclasses", "ev": "events", "event": "events",
}  # fmt: skip


def _unreadable(reason: str) -> dict[str, str]:
    return {"$opaque": f"Kubernetes facet: {reason}"}


def kubectl_facets(command: Any, cluster_scoped: frozenset[str]) -> dict[str, Any]:
    """The ``k8s`` facts of one kubectl command line (see the module docstring); never raises.

    Args:
        command: A command line string or an argv list of strings.
        cluster_scoped: The resources that live outside namespaces.
    """
    if isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            return _unreadable(f"the command line does not split into words: {exc}")
    elif isinstance(command, list) and all(type(word) is str for word in command):
        argv = list(command)
    else:
        return _unreadable("the command is neither a string nor a list of strings")
    if not argv or argv[0].rsplit("/", 1)[-1] != "kubectl":
        return _unreadable("the command is not kubectl")
    flags: dict[str, str | bool] = {}
    words: list[str] = []
    args = iter(argv[1:])
    for word in args:
        if word == "--":
            break  # what follows runs in the container (exec): not kubectl's
        if not word.startswith("-") or word == "-":
            words.append(word)
            continue
        name, eq, value = word.partition("=")
        if name == "-f" and words[:1] == ["logs"]:
            flags["--follow"] = True  # `kubectl logs -f` follows; elsewhere -f names files
            continue
        if name in _FILE_FLAGS:
            return _unreadable("resources given in files (-f, -k) are not read")
        if name in _VALUE_FLAGS:
            if not eq:
                following = next(args, None)
                if following is None:
                    return _unreadable(f"flag `{name}` has no value")
                value = following
            flags["-n" if name == "--namespace" else name] = value  # the last one given wins, as in kubectl
        elif name in _BOOL_FLAGS:
            flags[name] = True
        elif name.startswith("-n") and not name.startswith("--") and len(name) > 2:
            flags["-n"] = name[2:]  # -nproduction
        else:
            return _unreadable(f"unknown flag `{name}`: the words after it cannot be placed")
    if not words:
        return _unreadable("no subcommand")
    sub, rest = words[0], words[1:]
    if sub in ("rollout", "set") and rest:
        rest = rest[1:]  # `rollout restart deploy/x`, `set image deploy/x ...`
    namespace: Any = flags.get("-n")
    all_namespaces = bool(flags.get("-A") or flags.get("--all-namespaces"))
    resource, name = _resource(sub, rest)
    if isinstance(resource, dict):
        return resource
    if resource is None:
        return _unreadable(f"`kubectl {sub}` is not a command whose request this facet reads")
    subresource = ""
    if sub in _POD_SUBRESOURCES:
        verb, subresource = _POD_SUBRESOURCES[sub]
    elif sub in ("get", "describe"):
        watching = bool(flags.get("-w") or flags.get("--watch") or flags.get("--watch-only"))
        verb = "get" if name else ("watch" if watching else "list")
    elif sub == "delete":
        verb = "delete" if name else "deletecollection"
    elif sub in _CREATES:
        verb = "create"
    elif sub in _PATCHES:
        verb = "patch"
    elif sub == "replace":
        verb = "update"
    else:
        return _unreadable(f"`kubectl {sub}` is not a command whose request this facet reads")
    remote = _cp_namespace(sub, rest)
    if resource == "namespaces" and isinstance(name, str) and name:
        namespace = name
    elif remote is not None:
        namespace = remote  # `kubectl cp NAMESPACE/POD:PATH ...` names it, whatever -n says
    elif sub == "drain":
        namespace = _unreadable("drain evicts pods in every namespace")
    elif resource in cluster_scoped:
        namespace = ""
    elif all_namespaces:
        namespace = _unreadable("-A means every namespace")
    elif not isinstance(namespace, str) or not namespace:
        namespace = _unreadable(
            "no -n: the namespace is the kubeconfig context's, which the command does not show"
        )
    group = ""
    if "." in resource:  # `deployments.apps`
        resource, group = resource.split(".", 1)
    return {
        "verb": verb,
        "group": group,
        "version": "",
        "resource": resource,
        "name": name,
        "subresource": subresource,
        "namespace": namespace,
        "command": sub,
    }


_SUBTYPED = frozenset({"secret", "secrets", "service", "services", "svc"})


def _resource(sub: str, rest: list[str]) -> tuple[Any, Any]:
    """``(resource, name)`` named by the words after the subcommand; ``(None, "")`` if it names none.

    Several objects in one command (``delete pod a b``) make the name unreadable, several kinds
    (``get pods,services``, ``delete pod/a svc/b``) the resource.
    """
    if sub in _POD_SUBRESOURCES:
        target = rest[0] if rest else ""
        if sub == "cp":
            # kubectl cp SRC DST: the pod side is `[namespace/]pod:path`
            remote = next((w for w in rest[:2] if ":" in w), "")
            target = remote.split(":", 1)[0].rsplit("/", 1)[-1]
        kind, slash, pod = target.partition("/")
        if not target or (slash and _plural(kind) != "pods"):
            return None, ""
        return "pods", pod if slash else kind
    if sub in _NODE_COMMANDS:
        return ("nodes", rest[0]) if len(rest) == 1 else (None, "")
    if sub == "run":
        return ("pods", rest[0]) if rest else (None, "")
    if sub == "expose":
        return "services", ""
    if not rest:
        return None, ""
    if "/" in rest[0]:
        pairs = [word.partition("/") for word in rest]
        kinds = {_plural(kind) for kind, _, _ in pairs}
        names = [named for _, _, named in pairs]
    else:
        kind = rest[0]
        names = rest[1:]
        if sub == "create" and kind.lower() in _SUBTYPED and names:
            names = names[1:]  # `create secret generic NAME`, `create service clusterip NAME`
        kinds = {_plural(part) for part in kind.split(",")}
    resource: Any = next(iter(kinds)) if len(kinds) == 1 else _unreadable("several kinds of resource")
    name: Any = names[0] if len(names) == 1 else "" if not names else _unreadable("several objects")
    if sub in ("apply", "edit", "scale", "set", "rollout", "label", "annotate", "patch", "replace"):
        name = name or _unreadable(f"`kubectl {sub}` without a name")
    return resource, name


def _cp_namespace(sub: str, rest: list[str]) -> str | None:
    if sub != "cp":
        return None
    remote = next((w for w in rest[:2] if ":" in w), "")
    pod = remote.split(":", 1)[0]
    return pod.split("/", 1)[0] if "/" in pod else None


def _plural(kind: str) -> str:
    base, dot, group = kind.lower().partition(".")
    plural = _ALIASES.get(base, base)
    return f"{plural}{dot}{group}"
