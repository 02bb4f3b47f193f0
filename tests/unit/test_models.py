"""Several model endpoints (llamaStack.extraInference beside inference), each with its models and its own key
Secret: rendered in every config dialect, refused when ids or model names collide. With the real server:
tests/servers/test_llama_stack_models.py; on real pods: tests/cluster/real_node/test_dev_outbound.py."""

from __future__ import annotations

import pytest
import yaml

from support import refused, run_variant

HOSTED = {"id": "hosted", "provider": "openai", "url": "https://models.example.com/v1", "models": ["big", "small"],
          "apiKeySecret": {"name": "hosted-key", "key": "token"}}
LAB = {"id": "lab", "provider": "ollama", "url": "http://ollama.lab.svc:11434/v1", "models": ["lab-model"]}
DIALECTS = [{}, {"version": "0.6.1", "image": "docker.io/llamastack/distribution-starter:0.6.1"},
            {"distribution": "ogx", "version": "1.5.0", "image": "quay.io/ogx-ai/ogx:1.5.0", "tls": {"insecure": True}}]


def config(result) -> dict:
    return yaml.safe_load(result.one("ConfigMap", "llama-stack-config")["data"]["config.yaml"])


@pytest.mark.parametrize("dialect", DIALECTS, ids=["llama-stack-0.7", "llama-stack-0.6", "ogx"])
def test_each_endpoint_is_a_provider_with_its_models_and_key(dialect, preview):
    result = run_variant(preview=preview, llamaStack={**dialect, "inference": {"model": "local"},
                                                     "extraInference": [HOSTED, LAB]})
    assert result.error is None, result.error
    cfg = config(result)
    providers = {p["provider_id"]: p for p in cfg["providers"]["inference"]}
    assert list(providers) == ["vllm", "hosted", "lab"]
    assert providers["hosted"] == {"provider_id": "hosted", "provider_type": "remote::openai", "config": {
        "base_url": "https://models.example.com/v1", "api_key": "${env.INFERENCE_API_KEY_HOSTED:=}"}}
    assert providers["lab"] == {"provider_id": "lab", "provider_type": "remote::ollama",
                                "config": {"base_url": "http://ollama.lab.svc:11434/v1"}}
    models = [(m["provider_id"], m["model_id"]) for m in cfg["registered_resources"]["models"]]
    assert models == [("vllm", "local"), ("hosted", "big"), ("hosted", "small"), ("lab", "lab-model")]
    env = result.one("Deployment", "llama-stack")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "INFERENCE_API_KEY_HOSTED", "valueFrom": {"secretKeyRef": {"name": "hosted-key", "key": "token"}}} \
        in env
    assert not any(e["name"] == "INFERENCE_API_KEY_LAB" for e in env), "no key: none sent"
    assert "hosted-key" not in str(result.one("ConfigMap", "llama-stack-config")), "only the variable's name"


def test_without_extra_endpoints_the_config_is_as_before(dev):
    assert [p["provider_id"] for p in config(dev)["providers"]["inference"]] == ["vllm"]


@pytest.mark.parametrize("extra, fragments", [
    ([{**LAB, "id": "vllm"}], ['llamaStack.extraInference[0].id = "vllm": is already a provider\'s id '
                               '(inference.provider)']),
    ([LAB, {**HOSTED, "id": "lab"}], ['llamaStack.extraInference[1].id = "lab": is already a provider\'s id (above)']),
    ([{**LAB, "models": ["local"]}], ['llamaStack.extraInference[0].models[0] = "local": is registered already']),
    ([{**LAB, "models": []}], ["llamaStack.extraInference[0].models"]),
    ([{**LAB, "id": "Lab_1"}], ['llamaStack.extraInference[0].id = "Lab_1"']),
    ([{**LAB, "url": "https://user:pw@x.example.com/v1"}], ["llamaStack.extraInference[0].url",
                                                            "must not hold credentials"]),
    ([{**HOSTED, "apiKeySecret": {"name": "hosted-key"}}], ["llamaStack.extraInference[0].apiKeySecret.key"]),
])
def test_colliding_or_incomplete_endpoints_are_refused(extra, fragments):
    refused(run_variant(llamaStack={"inference": {"model": "local"}, "extraInference": extra}), *fragments)
