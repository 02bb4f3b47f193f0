"""The component's args that take Outputs (docs/component.md#outputs-as-args): the value from another
resource, known only while the program runs, goes into the objects exactly as a plain value would; a bad
value is refused once known, named as the caller wrote it; an Output where the value decides which objects
exist is refused before anything is registered.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from components import component_args
from components.deferred import deferrable_settings
from components.settings import StackSettings
from ops import offline
from support import TEST_SECRETS
from support.programs import python_keys, sorted_manifests

DEFERRABLE = ["llamaStack.image", "llamaStack.inference.url", "llamaStack.route.host",
              "llamaStack.storage.postgres.host", "mcpServer.image", "mcpServer.route.host"]
MARK = "<<output>>"


def test_the_settings_that_take_outputs_are_those_that_only_go_into_objects():
    assert sorted(".".join(p) for p in deferrable_settings(StackSettings)) == DEFERRABLE


def consumer(tmp_path: Path, args: dict[str, Any]) -> Path:
    """A program whose args hold, wherever MARK+value is, that value as an Output of another resource
    (a ConfigMap's data: what a StackReference or a model server's Service gives)."""
    path = tmp_path / "__main__.py"
    path.write_text(textwrap.dedent(f"""
        import pulumi
        import pulumi_kubernetes as k8s
        from llamastack_mcp import LlamaStackMcp

        def from_another_resource(value, n=[0]):
            n[0] += 1
            source = k8s.core.v1.ConfigMap(f"source-{{n[0]}}", metadata={{"namespace": "elsewhere"}},
                                           data={{"value": value}})
            return source.data.apply(lambda d: d["value"])

        def outputs(value):
            if isinstance(value, dict):
                return {{k: outputs(v) for k, v in value.items()}}
            if isinstance(value, str) and value.startswith({MARK!r}):
                return from_another_resource(value[len({MARK!r}):])
            return value

        args = outputs({args!r})
        args.update({{k: pulumi.Output.secret(v) for k, v in args.pop("secrets").items()}})
        LlamaStackMcp("agents", args)
    """))
    return path


def marked(values: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    values = json.loads(json.dumps(values))
    for path in paths:
        *parents, leaf = path.split(".")
        node = values
        for key in parents:
            node = node.setdefault(key, {})
        if node.get(leaf):
            node[leaf] = MARK + node[leaf]
    return values


def own_objects(run: offline.Run) -> list[str]:
    return [m for m in sorted_manifests(run) if '"elsewhere"' not in m]


def on_kubernetes(stack: str) -> dict[str, Any]:
    values, _ = offline.stack_settings(stack)
    values = json.loads(json.dumps(values))
    values["platform"] = "kubernetes"
    values["llamaStack"].setdefault("route", {}).update({"enabled": True, "host": "agents.example.com"})
    values["llamaStack"]["image"] = "docker.io/llamastack/distribution-starter:0.7.3"
    if stack == "prod":
        values["mcpServer"].setdefault("tls", {})["secretName"] = "mcp-serving-cert"
    else:  # the MCP server's own way in, for direct clients
        values["mcpServer"]["route"] = {"enabled": True, "host": "mcp.example.com"}
        values["mcpServer"]["oauth"] = {"enabled": True, "authorizationUrl": "https://sso.example.com/realms/agents"}
    return values


# prod: its PostgreSQL host; dev: the MCP server's host. Between them, every setting that takes an Output.
CASES = {"prod": [p for p in DEFERRABLE if p != "mcpServer.route.host"],
         "dev": [p for p in DEFERRABLE if p != "llamaStack.storage.postgres.host"]}
assert set(CASES["prod"]) | set(CASES["dev"]) == set(DEFERRABLE)


@pytest.mark.parametrize("stack", sorted(CASES))
def test_outputs_give_the_objects_plain_values_give(stack, preview, tmp_path):
    values = on_kubernetes(stack)
    secrets = {"postgres_password": TEST_SECRETS["postgresPassword"]} if stack == "prod" else {}
    args = python_keys(marked(values, CASES[stack]), component_args.LlamaStackMcpArgs)
    assert json.dumps(args).count(MARK) == len(CASES[stack])  # each given as an Output
    with_outputs = offline.run({}, preview=preview, program=consumer(tmp_path, {**args, "secrets": secrets}))
    assert with_outputs.error is None, with_outputs.error
    plain = offline.run({}, preview=preview, program=consumer(
        tmp_path, {**python_keys(values, component_args.LlamaStackMcpArgs), "secrets": secrets}))
    assert plain.error is None, plain.error
    assert own_objects(with_outputs) == own_objects(plain)
    assert "deferred-" not in json.dumps(own_objects(with_outputs))  # no stand-in left
    if not preview:
        config = with_outputs.one("ConfigMap", "llama-stack-config")["data"]
        text = next(iter(config.values()))
        assert "vllm.models.svc.cluster.local" in text
        pods = with_outputs.one("Deployment", "llama-stack")["spec"]["template"]["metadata"]["annotations"]
        assert pods["checksum/config"] == hashlib.sha256(text.encode()).hexdigest()


def test_a_bad_value_in_an_output_is_named_as_written_once_known(tmp_path):
    run = offline.run({}, program=consumer(tmp_path, {
        "platform": "kubernetes", "llama_stack": {"route": {"enabled": False},
                                                  "inference": {"url": MARK + "ftp://models.example.com"}},
        "secrets": {}}))
    assert run.error is not None
    assert "llama_stack.inference.url = 'ftp://models.example.com'" in run.error, run.error
    assert "must be an http:// or https:// URL" in run.error


def test_an_output_that_decides_which_objects_exist_is_refused_before_anything_registers(tmp_path):
    run = offline.run({}, program=consumer(tmp_path, {
        "platform": "kubernetes", "llama_stack": {"route": {"enabled": False}},
        "mcp_server": {"replicas": 2, "rbac": {"preset": MARK + "view"}}, "secrets": {}}))
    assert run.error is not None
    assert "mcp_server.rbac.preset: cannot be an Output" in run.error, run.error
    assert "llama_stack.inference.url" in run.error  # what may be one, as written
    assert [r for r in run.resources if r.typ.startswith("llamastack-mcp") or r.name.startswith("llama")] == []


def test_through_the_package_an_output_is_named_as_the_schema_names_it(tmp_path):
    """What a YAML program's `${model.url}` reaches the provider as: an Output, checked once known."""
    path = tmp_path / "__main__.py"
    path.write_text(textwrap.dedent("""
        import pulumi
        import pulumi_kubernetes as k8s
        from pulumi.provider.experimental import host
        from llamastack_mcp.provider import LlamaStackMcpProvider

        model = k8s.core.v1.ConfigMap("model", metadata={"namespace": "elsewhere"}, data={"url": "tcp://vllm"})
        host.is_hosting = True
        try:
            LlamaStackMcpProvider().construct("agents", "llamastack-mcp:index:LlamaStackMcp", {
                "platform": "kubernetes", "llamaStack": {"route": {"enabled": False},
                                                        "inference": {"url": model.data.apply(lambda d: d["url"])}}},
                None)
        finally:
            host.is_hosting = False
    """))
    run = offline.run({}, program=path)
    assert run.error is not None and "llamaStack.inference.url = 'tcp://vllm'" in run.error, run.error


def test_a_bad_secret_value_is_refused_without_being_shown(tmp_path):
    path = tmp_path / "__main__.py"
    path.write_text(textwrap.dedent("""
        import pulumi
        from llamastack_mcp import LlamaStackMcp

        LlamaStackMcp("agents", {"platform": "kubernetes", "llama_stack": {
            "route": {"enabled": False},
            "storage": {"backend": "postgres", "postgres": {"host": pulumi.Output.secret("Not A Host!")}}},
            "postgres_password": pulumi.Output.secret("pw")})
    """))
    run = offline.run({}, program=path)
    assert run.error is not None and "llama_stack.storage.postgres.host (a secret, value not shown)" in run.error, run.error
    assert "Not A Host!" not in run.error
