"""The ``k8s`` facet of kubectl command lines: read as kubectl reads them; what cannot be placed fails closed."""

from __future__ import annotations

from typing import Any

import pytest

from agent_os import AuditLog, GovernanceDenied, govern

POLICY = """
apiVersion: governance.toolkit/v1
name: kubectl-guard
default_action: allow
rules:
  - name: hands-off-production
    condition: "action.tool == 'kubectl' && k8s.namespace == 'production' && k8s.verb != 'get' && k8s.verb != 'list'"
    action: deny
  - name: no-exec
    condition: "action.tool == 'kubectl' && k8s.subresource == 'exec'"
    action: deny
  - name: no-bulk-delete
    condition: "action.tool == 'kubectl' && k8s.verb == 'deletecollection'"
    action: deny
"""


def kubectl(cmd: Any) -> str:
    return "ran"


TOOL = govern(kubectl, policy=POLICY, audit=AuditLog(), facets={"k8s": {"command": "cmd"}})


@pytest.mark.parametrize(
    ("command", "allowed"),
    [
        ("kubectl get pods -n production", True),
        ("kubectl delete pod web-1 -n dev", True),
        (["kubectl", "-n", "dev", "scale", "deploy/web", "--replicas=2"], True),
        ("kubectl logs -f web-1 -n production", True),
        ("kubectl get nodes", True),
        ("kubectl delete pod web-1 -n production", False),
        ("kubectl -nproduction delete pod web-1", False),
        ("kubectl --namespace=production rollout restart deploy/web", False),
        # the last namespace flag wins, as in kubectl
        ("kubectl -n dev --namespace production delete pod web-1", False),
        # the namespace object is in its own namespace
        ("kubectl delete ns production", False),
        # no -n: the kubeconfig context decides, which the command does not show
        ("kubectl delete pod web-1", False),
        ("kubectl delete pod web-1 -A", False),
        ("kubectl exec -it web-1 -n dev -- sh", False),
        ("kubectl cp production/web-1:/etc/passwd ./p -n dev", False),
        ("kubectl delete pods --all -n dev", False),
        ("kubectl delete pods -l app=web -n dev", False),
        ("kubectl drain node-1 --ignore-daemonsets", False),
        # cannot be placed: fail closed
        ("kubectl apply -f deploy.yaml -n dev", False),
        ("kubectl --frobnicate delete pod web-1 -n dev", False),
        ("kubectl delete pods,services -n production --all", False),
        ("kubectl delete pod web-1 -n 'dev", False),
        ("sh -c 'kubectl delete pod web-1 -n production'", False),
        (42, False),
    ],
)
def test_kubectl_commands(command: Any, allowed: bool) -> None:
    if allowed:
        assert TOOL(command) == "ran"
    else:
        with pytest.raises(GovernanceDenied):
            TOOL(command)


def test_kubectl_facts_are_audited() -> None:
    TOOL("kubectl -n dev delete deployment.apps/web")
    assert TOOL.audit_log.records()[-1].request["k8s"] == {
        "verb": "delete",
        "group": "apps",
        "version": "",
        "resource": "deployments",
        "name": "web",
        "subresource": "",
        "namespace": "dev",
        "command": "delete",
    }


def test_several_objects_make_the_name_unreadable() -> None:
    guard = govern(
        kubectl,
        policy=POLICY.replace("k8s.subresource == 'exec'", "k8s.name == 'db-0'"),
        audit=AuditLog(),
        facets={"k8s": {"command": "cmd"}},
    )
    assert guard("kubectl delete pod web-1 -n dev") == "ran"
    with pytest.raises(GovernanceDenied):
        guard("kubectl delete pod web-1 db-0 -n dev")  # `db-0` must not hide behind `web-1`
