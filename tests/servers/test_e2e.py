"""End to end: the real servers, started from exactly what the program renders.

The MCP server binary runs with the Deployment's container args (only the
port and a kubeconfig that points at no cluster added); Llama Stack / OGX run
their rendered config.yaml with only the MCP host, storage paths, TLS file
paths and (prod) the database address rewritten to run outside a pod. Then
`ops/verify.py` -- the same checks `make verify` runs after a deploy --
must pass against them.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from ops import offline
from support import TEST_SECRETS, run_variant
from support.agent_clients import connector_turn
from ops import verify
from testbed.e2e.servers import (DESTRUCTIVE, LEGACY, OGX, deps, free_port, processes, start_llama_stack, start_mcp, start_postgres,
                           start_stub_model, tool_names)



@pytest.fixture(scope="module")
def python312() -> None:
    try:
        deps("python312")
    except RuntimeError:
        pytest.fail("Python 3.12 is missing (pyenv or python3.12): the Llama Stack / OGX servers need it; "
                    "`make e2e-deps` installs them once it is there")


@pytest.fixture
def procs():
    with processes() as started:
        yield started


def verify_passes(capsys, *args: str, passes: int = 4) -> str:
    code = verify.main(list(args))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out and out.count("PASS") >= passes, out
    return out


# ------------------------------------------------------------------- tests

def test_dev_full_preset_and_llama_stack_0_7(python312, procs, capsys):
    run = offline.run_stack("dev")
    mcp_url = start_mcp(run, procs)
    names = tool_names(mcp_url)
    assert DESTRUCTIVE <= names, f"preset full must keep the write tools; got {sorted(names)}"
    base = start_llama_stack(run, mcp_url, procs, deps("llama-stack"))
    verify_passes(capsys, "--llama-stack-url", base, "--mcp-url", mcp_url)
    status, text, _ = verify.http("GET", f"{base}/v1beta/connectors/kubernetes/tools")
    listed = {t["name"] for t in yaml.safe_load(text)["data"]}
    assert listed == names, "Llama Stack must list exactly the MCP server's tools"


def test_prod_read_only_on_postgres(python312, procs, capsys):
    run = offline.run_stack("prod", secrets={"postgresPassword": TEST_SECRETS["postgresPassword"]})
    mcp_url = start_mcp(run, procs)
    assert mcp_url.startswith("https://"), "prod forwards callers' tokens: only over TLS"
    # Passthrough: any bearer token lists tools (the API server checks it once a tool runs).
    tools = verify.mcp_tools(mcp_url, insecure=True, token="caller-token")
    names = {t["name"] for t in tools}
    assert names and not (names & DESTRUCTIVE), f"read-only must hide write tools; got {sorted(names)}"
    assert not any(verify.is_destructive(t) for t in tools), "every tool left must be annotated read-only"
    pg = run.one("ConfigMap", "llama-stack-config")["data"]["config.yaml"]
    pg_settings = yaml.safe_load(pg)["storage"]["backends"]["kv_default"]
    port = start_postgres(procs, pg_settings["db"], pg_settings["user"], TEST_SECRETS["postgresPassword"])
    base = start_llama_stack(run, mcp_url, procs, deps("llama-stack"), postgres_port=port,
                             postgres_password=TEST_SECRETS["postgresPassword"])
    out = verify_passes(capsys, "--llama-stack-url", base, "--mcp-url", mcp_url, "--insecure",
                        "--token", "caller-token", passes=3)
    assert "SKIP  MCP connector 'kubernetes' lists tools through Llama Stack: the MCP server needs the caller's " \
           "token" in out, out
    tables = subprocess.run([*procs.psql, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert int(tables) > 0, "Llama Stack did not store its state in PostgreSQL"


def test_ogx_with_tls(python312, procs, capsys):
    run = run_variant("dev", llamaStack=OGX)
    assert run.error is None, run.error
    mcp_url = start_mcp(run, procs)
    base = start_llama_stack(run, mcp_url, procs, deps("ogx"))
    assert base.startswith("https://"), "OGX on OpenShift serves TLS (service-serving certificate)"
    verify_passes(capsys, "--llama-stack-url", base, "--mcp-url", mcp_url, "--insecure")


def test_legacy_tool_groups_dialect_on_llama_stack_0_6(python312, procs, capsys):
    run = run_variant("dev", llamaStack=LEGACY)
    assert run.error is None, run.error
    venv = deps("llama-stack-legacy")
    config = run.one("ConfigMap", "llama-stack-config")["data"]["config.yaml"]
    check = subprocess.run([f"{venv}/bin/python", "-c",
                            "import sys, yaml; from llama_stack.core.datatypes import StackConfig; "
                            "c = StackConfig(**yaml.safe_load(sys.stdin)); "
                            "print([g.toolgroup_id for g in c.registered_resources.tool_groups])"],
                           input=config, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr[-2000:]
    assert "mcp::kubernetes" in check.stdout
    mcp_url = start_mcp(run, procs)
    base = start_llama_stack(run, mcp_url, procs, venv)
    verify_passes(capsys, "--llama-stack-url", base, "--mcp-url", mcp_url)


def test_verify_fails_clearly_when_nothing_answers(capsys):
    port = free_port()
    code = verify.main(["--llama-stack-url", f"http://127.0.0.1:{port}", "--mcp-url", f"http://127.0.0.1:{port}/mcp"])
    out = capsys.readouterr().out
    assert code == 1 and "FAIL  Llama Stack health" in out and "FAIL  MCP server health" in out


# An agent turn: client -> Llama Stack (Responses API) -> model asks for a tool ->
# Llama Stack calls it on the MCP server through the connector -> Kubernetes API.


@pytest.mark.parametrize("llama_stack,venv_item", [({}, "llama-stack"), (OGX, "ogx")], ids=["llama-stack-0.7", "ogx"])
def test_agent_turn_calls_the_mcp_tool_through_the_connector(python312, procs, llama_stack, venv_item):
    run = run_variant("dev", llamaStack={**llama_stack, "inference": {"model": "stub-model"}})
    assert run.error is None, run.error
    model_url = start_stub_model(procs, "stub-model", "namespaces_list")
    mcp_url = start_mcp(run, procs)
    base = start_llama_stack(run, mcp_url, procs, deps(venv_item), inference_url=model_url)
    models = [m["id"] for m in yaml.safe_load(verify.http("GET", f"{base}/v1/models", insecure=True)[1])["data"]]
    model = next(m for m in models if m.endswith("stub-model"))
    status, text = connector_turn(base, model)
    assert status == 200, text[:2000]
    calls = [item for item in yaml.safe_load(text)["output"] if item.get("type") == "mcp_call"]
    assert [c["name"] for c in calls] == ["namespaces_list"], text[:2000]
    assert calls[0]["server_label"] == "kubernetes"
    # There is no cluster here, so the tool itself fails; Llama Stack reports that as the call's error.
    assert calls[0].get("error") or calls[0].get("output")
    # The MCP server's own count proves the call reached it through the connector.
    metrics = verify.http("GET", mcp_url.removesuffix("/mcp") + "/metrics")[1]
    assert re.search(r'k8s_mcp_tool_calls_total\{[^}]*tool_name="namespaces_list"[^}]*\} [1-9]', metrics), metrics[-1500:]


def test_llama_stack_requires_a_cluster_identity(python312, procs, cluster, capsys):
    """dev as rendered: the kubernetes auth provider, pointed at the local API server."""
    run = offline.run_stack("dev")
    mcp_url = start_mcp(run, procs)
    base = start_llama_stack(run, mcp_url, procs, deps("llama-stack"),
                             kube_api=(cluster.api_url, str(cluster.ca_file)))
    status, _, _ = verify.http("GET", f"{base}/v1/health")
    assert status == 200, "probes need the health endpoint without a token"
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        status, text, _ = verify.http("GET", f"{base}/v1/models", headers=headers)
        assert status == 401, (headers, status, text)
    # A valid identity dev does not name (a ServiceAccount of another namespace) is refused before any
    # tool could run with the agent's rights; the group dev names (llama-stack-developers) is let in.
    cluster.kubectl("create", "serviceaccount", "alice", "-n", "default", check=False)
    alice = cluster.kubectl("create", "token", "alice", "-n", "default").stdout.strip()
    status, text, _ = verify.http("GET", f"{base}/v1/models", headers={"Authorization": f"Bearer {alice}"})
    assert status == 403, (status, text)
    token = cluster.developer_token()
    status, text, _ = verify.http("GET", f"{base}/v1/models", headers={"Authorization": f"Bearer {token}"})
    assert status == 200, text
    code = verify.main(["--llama-stack-url", base, "--mcp-url", mcp_url])
    assert code == 1 and "pass --token" in capsys.readouterr().out
    verify_passes(capsys, "--llama-stack-url", base, "--mcp-url", mcp_url, "--token", token)
