"""Several model endpoints (llamaStack.inference and extraInference), each with its own key, with the real Llama
Stack 0.7.3: one agent turn per model, each answered by its own endpoint, which saw its own key. Every request goes
to 127.0.0.1. (Two scripted models stand in for a local vLLM and a hosted OpenAI-compatible endpoint.)"""

from __future__ import annotations

import hashlib
import re

import yaml

from ops import verify
from support import run_variant
from support.agent_clients import connector_turn
from testbed.e2e.servers import deps, processes, start_llama_stack, start_mcp, start_stub_model

SECOND_KEY = "sk-second-0123456789"


def test_each_model_is_answered_by_its_own_endpoint_with_its_own_key():
    deps("python312")
    run = run_variant("dev", llamaStack={
        "inference": {"model": "local-model"},
        "extraInference": [{"id": "hosted", "provider": "vllm", "url": "https://models.example.com/v1",
                            "models": ["hosted-model"], "apiKeySecret": {"name": "hosted-key", "key": "token"}}]})
    assert run.error is None, run.error
    with processes() as procs:
        local = start_stub_model(procs, "local-model", "namespaces_list")
        hosted = start_stub_model(procs, "hosted-model", "namespaces_list")
        mcp_url = start_mcp(run, procs)
        base = start_llama_stack(run, mcp_url, procs, deps("llama-stack"), inference_url=local,
                                 provider_urls={"hosted": hosted}, secret_env={"INFERENCE_API_KEY_HOSTED": SECOND_KEY})
        served = [m["id"] for m in yaml.safe_load(verify.http("GET", f"{base}/v1/models", insecure=True)[1])["data"]]
        assert {"vllm/local-model", "hosted/hosted-model"} <= set(served), served
        for model in ("vllm/local-model", "hosted/hosted-model"):
            status, text = connector_turn(base, model)
            assert status == 200, text[:2000]
            calls = [i for i in yaml.safe_load(text)["output"] if i.get("type") == "mcp_call"]
            assert [c["name"] for c in calls] == ["namespaces_list"], text[:2000]
        logs = {path.stem: path.read_text() for path in procs.workdir.glob("model*.log")}
    seen = {re.search(r"model=(\S+)", line)[1]: re.search(r"key-sha256=(\S+)", line)[1]
            for log in logs.values() for line in log.splitlines() if line.startswith("completion ")}
    assert set(seen) == {"local-model", "hosted-model"}, logs
    assert seen["hosted-model"] == hashlib.sha256(SECOND_KEY.encode()).hexdigest()[:16], "the hosted key, from its Secret"
    assert seen["local-model"] == hashlib.sha256(b"fake").hexdigest()[:16], "the local one has no key (vLLM's default)"
