"""dev on a real node, its model endpoint served over HTTPS with a certificate the test's own CA signed (a second
scripted model, `vllm-tls` in `models`): the agent's turn fails on the certificate until
llamaStack.trust.caBundles names the ConfigMap holding that CA, then runs. Judged by the agent's answer through
the pods and Llama Stack's own log. Then a second endpoint beside it (llamaStack.extraInference: the plain scripted
model under another name, its key from a Secret): one agent turn per model, each answered by its own endpoint with
its own key. (With the servers as processes: tests/servers/test_llama_stack_outbound.py, tests/servers/test_llama_stack_models.py.)"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import pytest

from ops import ask
from testbed.localcluster import model as model_endpoint
from testbed.localcluster.harness import Project
from support import LLAMA, NS, namespace_gone, pulumi_sh
from support.agent_clients import MODEL, call
from support.real_node import pods, port_forward

TLS_NAME = "vllm-tls"
HOST = f"{TLS_NAME}.{model_endpoint.NAMESPACE}.svc.cluster.local"


def tls_stub(ns: str) -> list[dict]:
    """The scripted model again, serving HTTPS on 8443 with the certificate in Secret vllm-tls."""
    deployment = next(m for m in model_endpoint.manifest() if m["kind"] == "Deployment")
    labels = {**deployment["metadata"]["labels"], "app.kubernetes.io/name": TLS_NAME}
    pod = json.loads(json.dumps(deployment["spec"]["template"]["spec"]))
    (container,) = pod["containers"]
    container["command"] = ["python3", "/stub/stub_model.py", "--port", "8443", "--bind", "0.0.0.0", "--model",
                            model_endpoint.MODEL, "--tls-cert", "/tls/tls.crt", "--tls-key", "/tls/tls.key"]
    container["ports"] = [{"containerPort": 8443, "name": "https"}]
    container["readinessProbe"] = {"tcpSocket": {"port": "https"}, "periodSeconds": 2}
    container["volumeMounts"].append({"name": "tls", "mountPath": "/tls", "readOnly": True})
    pod["volumes"].append({"name": "tls", "secret": {"secretName": TLS_NAME}})
    meta = {"name": TLS_NAME, "namespace": ns, "labels": labels}
    return [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
             "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": TLS_NAME}},
                      "template": {"metadata": {"labels": labels}, "spec": pod}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": meta,
             "spec": {"selector": {"app.kubernetes.io/name": TLS_NAME}, "ports": [{"port": 8443, "targetPort": "https"}]}}]


@pytest.fixture(scope="module")
def private_ca(real, tmp_path_factory):
    """The HTTPS model endpoint; yields its CA (self-signed: in no public bundle)."""
    work = tmp_path_factory.mktemp("model-tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={HOST}",
                    "-addext", f"subjectAltName=DNS:{HOST},DNS:{TLS_NAME}.{model_endpoint.NAMESPACE}.svc",
                    "-keyout", str(work / "tls.key"), "-out", str(work / "tls.crt")], check=True, capture_output=True)
    real.run([sys.executable, "-m", "testbed.localcluster.model", "apply", str(real.kubeconfig)])
    ns = model_endpoint.NAMESPACE
    real.kubectl("create", "secret", "tls", TLS_NAME, "-n", ns, f"--cert={work / 'tls.crt'}",
                 f"--key={work / 'tls.key'}")
    real.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": tls_stub(ns)}))
    real.kubectl("rollout", "status", "-n", ns, f"deployment/{TLS_NAME}", "--timeout=180s")
    yield work / "tls.crt"
    real.kubectl("delete", "deployment,service,secret", TLS_NAME, "-n", ns, "--ignore-not-found", check=False)


@pytest.fixture(scope="module")
def make(real, private_ca, tmp_path_factory):
    project = Project(real, tmp_path_factory.mktemp("real-outbound") / "project", "dev")
    home = tmp_path_factory.mktemp("home")

    def run(*args: str):
        return pulumi_sh(real, project, "dev", *args, home=home, kubeconfig=False)

    run.project = project
    yield run
    assert run("destroy", "--yes").returncode == 0
    namespace_gone(real)


def set_inference(project: Project, trust: dict) -> None:
    stack = project.settings()["llamastack-mcp:llamaStack"]
    project.set_setting("llamaStack", {**stack, "inference": {**stack["inference"], "url": f"https://{HOST}:8443/v1",
                                                              "model": MODEL}, **trust})


def settled(real) -> bool:
    """One Llama Stack pod, Ready and not on its way out: a port-forward to the Service picks any pod it selects."""
    found = pods(real, LLAMA)
    return len(found) == 1 and not found[0]["metadata"].get("deletionTimestamp") and all(
        s["ready"] for s in found[0]["status"].get("containerStatuses", [{"ready": False}]))


def turn(real, model: str = MODEL) -> dict:
    real.wait_until("Llama Stack's one pod ready", lambda: settled(real), timeout=120)
    with port_forward(real, LLAMA, 8321) as url:
        return ask.agent_turn(url, real.developer_token(), call("pods_list_in_namespace", namespace=NS),
                              forward=False, model=model)


def keys_seen(real, name: str) -> dict[str, str]:
    """model -> the digest of the key the scripted model at `name` was sent (its log, one line per completion)."""
    log = real.kubectl("logs", "-n", model_endpoint.NAMESPACE, f"deployment/{name}").stdout
    return {m[1]: m[2] for m in re.finditer(r"completion model=(\S+) key-sha256=(\S+)", log)}


def test_the_model_behind_a_private_ca_is_reached_only_once_that_ca_is_trusted(real, make, private_ca):
    set_inference(make.project, {})
    up = make("up", "--yes")
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    with pytest.raises(Exception) as refused:
        turn(real)
    (pod,) = pods(real, LLAMA)
    log = real.kubectl("logs", "-n", NS, pod["metadata"]["name"]).stdout
    assert "CERTIFICATE_VERIFY_FAILED" in log, (str(refused.value), log[-3000:])

    real.kubectl("create", "configmap", "model-ca", "-n", NS, f"--from-file=ca.crt={private_ca}")
    set_inference(make.project, {"trust": {"caBundles": [{"configMap": "model-ca", "key": "ca.crt"}]}})
    up = make("up", "--yes")
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    answered = turn(real)
    assert answered["calls"] == 1 and answered["name"] == "pods_list_in_namespace" and not answered["error"], answered
    running = {p["metadata"]["name"] for p in real.get("pods", "-n", NS)["items"]}
    assert running <= set(answered["output"].split()), answered


HOSTED_KEY = "sk-hosted-0123456789"


def test_a_second_endpoint_with_its_own_key_answers_its_own_model(real, make, private_ca):
    real.kubectl("create", "secret", "generic", "hosted-key", "-n", NS, f"--from-literal=token={HOSTED_KEY}")
    stack = make.project.settings()["llamastack-mcp:llamaStack"]
    make.project.set_setting("llamaStack", {**stack, "extraInference": [{
        "id": "hosted", "provider": "vllm", "url": f"http://{model_endpoint.NAME}.{model_endpoint.NAMESPACE}.svc:8000/v1",
        "models": ["hosted-model"], "apiKeySecret": {"name": "hosted-key", "key": "token"}}]})
    up = make("up", "--yes")
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    for model in (MODEL, "hosted-model"):
        answered = turn(real, model)
        assert answered["calls"] == 1 and not answered["error"], (model, answered)
        assert answered["model"].endswith(f"/{model}") and answered["model"].startswith(
            "hosted/" if model == "hosted-model" else "vllm/"), answered
    assert keys_seen(real, model_endpoint.NAME).get("hosted-model") == \
        hashlib.sha256(HOSTED_KEY.encode()).hexdigest()[:16], "the hosted endpoint got the key from its Secret"
    assert MODEL in keys_seen(real, TLS_NAME), "the first endpoint answered the first model"
