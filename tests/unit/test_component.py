"""The component `LlamaStackMcp` as other programs use it: as a Python library, and through the component
package's provider (what `pulumi package add` serves to YAML, TypeScript, Go, ...), under Pulumi's mocks.

Each way must register exactly the objects the standalone program registers for the same settings, refuse
bad args all at once before anything registers (named as the caller wrote them), and the package schema
must carry every setting with its description. The real CLI on the local cluster: tests/cluster/.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from ops import offline
from components import component_args
from components.llamastack_mcp import TYPE, camel_case
from testbed.devtools import component_args as args_generator
from testbed.devtools.settings_docs import leaves
from support import ROOT, TEST_SECRETS
from support.programs import hosted_program, program, python_keys, sorted_manifests

EXAMPLES = ROOT / "examples"


# ------------------------------------------------------------- same objects, three ways in

@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_python_library_deploys_what_the_stack_deploys(stack, preview, tmp_path):
    values, _ = offline.stack_settings(stack)
    args = python_keys(values, component_args.LlamaStackMcpArgs)
    secrets = {"postgresPassword": TEST_SECRETS["postgresPassword"]} if stack == "prod" else {}
    path = program(tmp_path, f"""
        import pulumi
        from llamastack_mcp import LlamaStackMcp
        args = {args!r}
        # A secret arrives as the caller's secret Output (pulumi.Config().require_secret(...)).
        args.update({{k: pulumi.Output.secret(v) for k, v in { {args_generator._snake(k): v for k, v in secrets.items()}!r}.items()}})
        LlamaStackMcp("agents", args)
    """)
    library = offline.run({}, preview=preview, program=path)
    assert library.error is None, library.error
    standalone = offline.run_stack(stack, preview=preview, secrets=secrets)
    assert standalone.error is None
    assert sorted_manifests(library) == sorted_manifests(standalone)
    assert len(library.objects) == len(standalone.objects) >= 15
    if secrets:  # the secrets stay secret inputs of the objects they reach
        secret_objects = [r for r in library.objects if r.kind == "Secret"]
        assert secret_objects and all(offline._SECRET_SIG in json.dumps(r.inputs) for r in secret_objects)
        assert not any(v in json.dumps(r.inputs) for r in library.objects if r.kind != "Secret"
                       for v in secrets.values())


def test_the_python_example_deploys_what_dev_deploys(preview):
    example = offline.run({}, preview=preview, program=EXAMPLES / "python" / "__main__.py")
    assert example.error is None, example.error
    assert sorted_manifests(example) == sorted_manifests(offline.run_stack("dev", preview=preview))
    assert set(example.outputs) == {"namespace", "mcpServerUrl", "llamaStackUrl"}
    if not preview:
        assert example.outputs["namespace"] == "llama-stack"


def yaml_example() -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / "yaml" / "Pulumi.yaml").read_text())


def test_the_yaml_example_through_the_provider_deploys_what_dev_deploys(preview, tmp_path):
    resource = yaml_example()["resources"]["agents"]
    assert resource["type"] == TYPE
    hosted = offline.run({}, preview=preview, program=hosted_program(tmp_path, resource["properties"]))
    assert hosted.error is None, hosted.error
    assert sorted_manifests(hosted) == sorted_manifests(offline.run_stack("dev", preview=preview))
    assert [r.typ for r in hosted.resources if r.typ == TYPE] == [TYPE]


def test_prod_through_the_provider_keeps_the_password_secret(preview, tmp_path):
    values, _ = offline.stack_settings("prod")
    values["postgresPassword"] = TEST_SECRETS["postgresPassword"]
    hosted = offline.run({}, preview=preview, program=hosted_program(tmp_path, values, ("postgresPassword",)))
    assert hosted.error is None, hosted.error
    assert sorted_manifests(hosted) == sorted_manifests(
        offline.run_stack("prod", preview=preview, secrets={"postgresPassword": TEST_SECRETS["postgresPassword"]}))
    assert not any(TEST_SECRETS["postgresPassword"] in json.dumps(r.inputs) for r in hosted.objects
                   if r.kind != "Secret")


def test_the_standalone_program_is_one_component_whose_parts_keep_their_names():
    run = offline.run_stack("dev")
    top = [r for r in run.resources if r.typ == TYPE]
    assert [(r.name, "::pulumi:pulumi:Stack::" in r.parent) for r in top] == [("llamastack-mcp", True)]
    parts = {r.name: r.typ for r in run.resources if r.parent.endswith(f"{TYPE}::llamastack-mcp")}
    assert all(r.aliases == [{"spec": {"noParent": True}}] for r in run.resources
               if r.parent.endswith(f"{TYPE}::llamastack-mcp")), [r.aliases for r in run.resources]
    # The names they had at the stack's root, which their aliases carry over for existing stacks.
    assert parts == {"mcp-server": "llamastack-mcp:index:KubernetesMcpServer",
                     "llama-stack": "llamastack-mcp:index:LlamaStack",
                     "network-policies": "llamastack-mcp:index:NetworkPolicies",
                     "monitoring": "llamastack-mcp:index:Monitoring"}


def test_two_components_in_one_program_do_not_collide(tmp_path):
    path = program(tmp_path, """
        from llamastack_mcp import LlamaStackMcp
        for team in ("team-a", "team-b"):
            LlamaStackMcp(team, {"platform": "kubernetes", "namespace": {"name": team},
                                 "llama_stack": {"route": {"enabled": False}},
                                 "mcp_server": {"rbac": {"scope": "namespaces", "namespaces": [team]}}})
    """)
    run = offline.run({}, program=path)
    assert run.error is None, run.error
    assert {m["metadata"]["name"] for m in run.find("Namespace")} == {"team-a", "team-b"}
    names = [(r.typ, r.name) for r in run.resources if not r.custom]
    assert len(names) == len(set(names)) > 2


def test_the_callers_provider_carries_every_object(tmp_path):
    """docs/component.md: the objects go through the provider the caller passes, as children inherit it."""
    run = offline.run({}, program=program(tmp_path, """
        import pulumi
        from components.registry import KubernetesProvider
        from llamastack_mcp import LlamaStackMcp
        staging = KubernetesProvider("staging", None, "staging", pulumi.ResourceOptions())
        LlamaStackMcp("agents", {"platform": "kubernetes", "llama_stack": {"route": {"enabled": False}}},
                      pulumi.ResourceOptions(providers={"kubernetes": staging}))
    """))
    assert run.error is None, run.error
    assert run.all_objects and {r.cluster for r in run.all_objects} == {"staging"}


# ------------------------------------------------------------------ bad args

BAD = {"platform": "aws", "mcp_server": {"replicass": 2, "autoscaling": {"enabled": True, "max_replicas": 0},
                                         "rbac": {"preset": "everything"}}}


def test_bad_library_args_are_refused_at_once_in_python_casing(tmp_path):
    run = offline.run({}, program=program(tmp_path, f"""
        from llamastack_mcp import LlamaStackMcp
        LlamaStackMcp("agents", {BAD!r})
    """))
    assert run.error is not None and run.resources == []
    for named in ("platform", "mcp_server.replicass", "mcp_server.autoscaling.max_replicas", "mcp_server.rbac.preset"):
        assert named in run.error, (named, run.error)
    assert '"aws"' in run.error and '"everything"' in run.error and "maxReplicas" not in run.error
    assert "max_replicas = 0:" in run.error
    assert "problem(s)" in run.error


def test_bad_package_args_are_refused_at_once_in_the_schemas_casing(tmp_path):
    bad = {"platform": "aws", "mcpServer": {"autoscaling": {"enabled": True, "maxReplicas": 0},
                                            "rbac": {"preset": "everything"}}}
    run = offline.run({}, program=hosted_program(tmp_path, bad))
    assert run.error is not None
    assert not [r for r in run.resources if r.custom or r.typ == TYPE]
    for named in ("platform", "mcpServer.autoscaling.maxReplicas = 0:", "mcpServer.rbac.preset"):
        assert named in run.error, (named, run.error)
    assert "max_replicas" not in run.error


# -------------------------------------------------------------------- schema

@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    from llamastack_mcp.provider import LlamaStackMcpProvider
    return json.loads(LlamaStackMcpProvider("1.2.3").schema)


def _property(schema: dict[str, Any], path: str) -> dict[str, Any]:
    props = schema["resources"][TYPE]["inputProperties"]
    parts = path.split(".")
    for i, part in enumerate(parts):
        prop = props[part]
        if i == len(parts) - 1:
            return prop
        ref = prop.get("$ref") or prop.get("items", {}).get("$ref")
        props = schema["types"][ref.removeprefix("#/types/")]["properties"]
    raise AssertionError(path)


def test_the_schema_carries_every_setting_with_its_description(schema):
    checked = 0
    for path, _, description in leaves():
        prop = _property(schema, path)
        assert " ".join(description.split()) in prop["description"], path
        checked += 1
    assert checked > 100
    assert schema["name"] == "llamastack-mcp" and schema["version"] == "1.2.3"


def test_the_schema_spells_settings_as_the_stack_files_do(schema):
    props = schema["resources"][TYPE]["inputProperties"]
    assert set(props) == set(offline.project_defaults()) | {"inferenceApiKey", "postgresPassword", "fleetKubeconfigs"}
    autoscaling = schema["types"][_property(schema, "mcpServer.autoscaling")["$ref"].removeprefix("#/types/")]
    assert set(autoscaling["properties"]) == {"enabled", "minReplicas", "maxReplicas", "targetCPUUtilizationPercentage",
                                              "targetMemoryUtilizationPercentage", "scaleDownStabilizationSeconds"}
    rule = schema["types"][_property(schema, "mcpServer.rbac.rules")["items"]["$ref"].removeprefix("#/types/")]
    assert "nonResourceURLs" in rule["properties"]


def test_the_schema_marks_the_secrets_and_types_the_outputs(schema):
    resource = schema["resources"][TYPE]
    assert all(resource["inputProperties"][k].get("secret") for k in ("inferenceApiKey", "postgresPassword",
                                                                      "fleetKubeconfigs"))
    assert not any(p.get("secret") for k, p in resource["inputProperties"].items()
                   if k not in ("inferenceApiKey", "postgresPassword", "fleetKubeconfigs"))
    assert resource["isComponent"] is True
    assert set(resource["properties"]) == {"namespace", "mcpServerUrl", "mcpServiceAccount", "llamaStackInternalUrl",
                                           "mcpServerRouteUrl", "llamaStackUrl", "fleetContexts"}
    assert set(resource["required"]) == {"namespace", "mcpServerUrl", "mcpServiceAccount", "llamaStackInternalUrl"}


def test_the_args_file_is_generated_from_the_model():
    assert (ROOT / "components" / "component_args.py").read_text() == args_generator.args_module()


def test_the_args_keys_camel_case_as_pulumi_does():
    from pulumi.provider.experimental.util import camel_case as pulumis
    keys = [k for name in component_args.__all__ for k in getattr(component_args, name).__annotations__]
    assert len(keys) > 150 and all(camel_case(k) == pulumis(k) for k in keys)
