"""llamaStack.trust with the real Llama Stack 0.7.3: a model endpoint whose certificate the test's own CA signed is
reached only when that CA is configured (a ConfigMap in trust.caBundles, put in the one bundle by the pod's init
container, run here as rendered). Every request goes to 127.0.0.1. On real pods: tests/cluster/real_node/."""

from __future__ import annotations

from support.agent_clients import connector_turn
from testbed.e2e.servers import deps, processes, self_signed_cert, start_llama_stack, start_mcp, start_stub_model

CA_IN_POD = "/etc/llama-stack/extra-ca/0-model-ca.crt"


def agent_turn(trusted: bool) -> tuple[int, str]:
    """One Responses turn through Llama Stack to the HTTPS model: its status, and Llama Stack's log."""
    from support import run_variant
    trust = {"trust": {"caBundles": [{"configMap": "model-ca", "key": "ca.crt"}]}} if trusted else {}
    run = run_variant("dev", llamaStack={**trust, "inference": {"model": "stub-model"}})
    assert run.error is None, run.error
    with processes() as procs:
        tls = procs.workdir / "model-tls"
        self_signed_cert(tls, "127.0.0.1")  # its own CA: in no public bundle
        model_url = start_stub_model(procs, "stub-model", "namespaces_list", tls=tls)
        mcp_url = start_mcp(run, procs)
        base = start_llama_stack(run, mcp_url, procs, deps("llama-stack"), inference_url=model_url,
                                 ca_files={CA_IN_POD: tls / "tls.crt"})
        status, _ = connector_turn(base, "vllm/stub-model")
        log = "".join(path.read_text(errors="replace") for path in procs.workdir.glob("*.log"))
    return status, log


def test_a_model_behind_a_private_ca_is_reached_only_with_that_ca_trusted():
    deps("python312")
    status, log = agent_turn(trusted=True)
    assert status == 200, log[-3000:]
    status, log = agent_turn(trusted=False)
    assert status != 200 and "CERTIFICATE_VERIFY_FAILED" in log, log[-3000:]
