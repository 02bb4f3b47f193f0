"""The local cluster's model endpoint: a scripted stand-in where the stacks expect vLLM.

Both stack files point Llama Stack at `http://vllm.models.svc.cluster.local:8000/v1`. No model runs
on this machine, so on a local cluster with a real node this puts the scripted model
(testbed/e2e/stub_model.py: standard library only) there as a pod of the Llama Stack image, before the stack
starts (Llama Stack lists the models when it starts). It answers by calling a tool: the one a prompt
names (`call pods_list_in_namespace {"namespace": "llama-stack"}`), else `namespaces_list`, then
quotes the tool's result; it is a stand-in for the path through the pods, not a language model.

    python -m testbed.localcluster.model apply KUBECONFIG   # idempotent; waits until it serves
    python -m testbed.localcluster.model delete KUBECONFIG
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from components.meta import container_security_context

NAMESPACE = "models"
NAME = "vllm"  # the Service name the stack files use
MODEL = "stub-model"
# The image holds a Python; the stand-in needs nothing else.
IMAGE = "docker.io/llamastack/distribution-starter:0.7.3"
SCRIPT = Path(__file__).resolve().parent.parent / "e2e" / "stub_model.py"


def manifest() -> list[dict]:
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "local-cluster"}
    container = {
        "name": "model", "image": IMAGE,
        "command": ["python3", "/stub/stub_model.py", "--port", "8000", "--bind", "0.0.0.0", "--model", MODEL],
        "ports": [{"containerPort": 8000, "name": "http"}],
        "readinessProbe": {"httpGet": {"path": "/v1/models", "port": "http"}, "periodSeconds": 2},
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
        "securityContext": container_security_context(None), "volumeMounts": [{"name": "stub", "mountPath": "/stub"}]}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": labels}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "stub-model", "namespace": NAMESPACE},
         "data": {"stub_model.py": SCRIPT.read_text()}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels},
         "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"enableServiceLinks": False, "containers": [container],
                                        "volumes": [{"name": "stub", "configMap": {"name": "stub-model"}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels},
         "spec": {"selector": {"app.kubernetes.io/name": NAME}, "ports": [{"port": 8000, "targetPort": "http"}]}},
    ]


def kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> None:
    subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], input=stdin, text=True, check=True,
                   stdout=subprocess.DEVNULL)


def apply(kubeconfig: str) -> None:
    items = {"apiVersion": "v1", "kind": "List", "items": manifest()}
    kubectl(kubeconfig, "apply", "--server-side", "--field-manager", "local-cluster", "-f", "-",
            stdin=json.dumps(items))
    kubectl(kubeconfig, "rollout", "status", "-n", NAMESPACE, f"deployment/{NAME}", "--timeout=180s")


def delete(kubeconfig: str) -> None:
    kubectl(kubeconfig, "delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=120s")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("apply", "delete"):
        print(__doc__, file=sys.stderr)
        return 2
    (apply if argv[0] == "apply" else delete)(argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
