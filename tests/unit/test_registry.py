"""The registrar: one place turns manifests into resources; it refuses two objects with one name."""

from __future__ import annotations

import pulumi
import pytest

from components import meta
from components.registry import logical_name, register_all


class _Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.created: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.created.append(args.name)
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def config_map(name: str) -> meta.Manifest:
    return meta.manifest("v1", "ConfigMap", meta.metadata(name, "ns", {}), data={"k": "v"})


@pytest.fixture(autouse=True)
def mocks() -> _Mocks:
    mocks = _Mocks()
    pulumi.runtime.set_mocks(mocks, project="p", stack="s", preview=False)
    return mocks


def test_two_objects_with_one_name_are_refused_when_the_second_comes():
    # Pulumi's mocks do not catch duplicate URNs (the engine would, halfway through an update).
    with pytest.raises(ValueError, match=r"two objects named \('ConfigMap', 'ns', 'same'\)"):
        register_all([config_map("same"), config_map("other"), config_map("same")], pulumi.ResourceOptions())
    assert logical_name(config_map("same")) == "configmap:ns/same"


def test_distinct_objects_all_register():
    created = register_all([config_map("a"), config_map("b")], pulumi.ResourceOptions())
    assert sorted(k[2] for k in created) == ["a", "b"]


# ------------------------------------------------ the same registration as the typed SDK classes

def _typed_classes() -> dict[tuple[str, str], type]:
    """pulumi_kubernetes' typed class of each kind the program renders that it has one for."""
    import pulumi_kubernetes as k8s
    return {
        ("v1", "Namespace"): k8s.core.v1.Namespace, ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
        ("v1", "Service"): k8s.core.v1.Service, ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
        ("v1", "Secret"): k8s.core.v1.Secret, ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
        ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
        ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
        ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
        ("networking.k8s.io/v1", "Ingress"): k8s.networking.v1.Ingress,
        ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
        ("rbac.authorization.k8s.io/v1", "ClusterRole"): k8s.rbac.v1.ClusterRole,
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): k8s.rbac.v1.ClusterRoleBinding,
        ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
    }


def _requests(register_them) -> dict[str, dict]:
    """What reached the engine, per logical name: type, inputs (secrets still marked), secret outputs, version."""
    from pulumi.runtime import mocks as pulumi_mocks
    from pulumi.runtime import rpc
    from pulumi.runtime.stack import wait_for_rpcs
    from pulumi.runtime.sync_await import _sync_await

    seen: dict[str, dict] = {}

    class Recorder(pulumi_mocks.MockMonitor):
        def RegisterResource(self, request):  # noqa: N802 (gRPC name)
            seen[request.name] = {"type": request.type, "inputs": rpc.deserialize_properties(request.object),
                                  "secret_outputs": sorted(request.additionalSecretOutputs),
                                  "version": request.version}
            return super().RegisterResource(request)

    mocks = _Mocks()
    pulumi.runtime.set_mocks(mocks, project="p", stack="s", preview=False, monitor=Recorder(mocks))
    register_them()
    _sync_await(wait_for_rpcs())
    return seen


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def test_every_kind_registers_as_the_typed_sdk_class_would():
    # The registrar does not import the typed classes (their import is ~0.25 s of each start): it must
    # send the engine the same type token (the URN), inputs, secret outputs and provider version, or an
    # existing stack would see replacements. Every kind of the variant matrix, through both paths.
    from support.variants import VARIANTS
    from support import run_variant
    from components.registry import register

    typed = _typed_classes()
    by_kind: dict[tuple[str, str], meta.Manifest] = {}
    for variant in VARIANTS:
        for m in run_variant(variant.base, secrets=variant.secrets, **variant.overrides).manifests():
            by_kind.setdefault((m["apiVersion"], m["kind"]), m)
    assert set(typed) <= set(by_kind), set(typed) - set(by_kind)

    def ours():
        for m in by_kind.values():
            register(m, pulumi.ResourceOptions())

    def sdk():
        for (api_version, kind), m in by_kind.items():
            cls = typed.get((api_version, kind))
            if cls is None:  # OpenShift and Prometheus Operator kinds: generic in both
                register(m, pulumi.ResourceOptions())
            else:
                cls(logical_name(m), **{_snake(k): v for k, v in m.items() if k not in ("apiVersion", "kind")})

    assert _requests(ours) == _requests(sdk)
    assert _requests(ours)["secret:llama-stack/llama-stack-secrets"]["secret_outputs"] == ["data", "stringData"]


@pytest.mark.parametrize("environment", [{}, {"KUBECONFIG": "/k/config", "PULUMI_K8S_ENABLE_SERVER_SIDE_APPLY": "false",
                                              "PULUMI_K8S_DELETE_UNREACHABLE": "true",
                                              "PULUMI_K8S_SKIP_UPDATE_UNREACHABLE": "maybe"}])
@pytest.mark.parametrize("kubeconfig", [None, "apiVersion: v1\nkind: Config\n"])
def test_a_members_provider_registers_as_the_typed_provider_would(monkeypatch, environment, kubeconfig):
    # A provider whose inputs change is replaced with every object through it: the environment's
    # defaults must land in the same inputs.
    import pulumi_kubernetes as k8s
    from components.registry import KubernetesProvider

    for variable in ("KUBECONFIG", "PULUMI_K8S_ENABLE_SERVER_SIDE_APPLY", "PULUMI_K8S_DELETE_UNREACHABLE",
                     "PULUMI_K8S_SKIP_UPDATE_UNREACHABLE"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    ours = _requests(lambda: KubernetesProvider("staging", kubeconfig, "ctx", pulumi.ResourceOptions()))
    sdk = _requests(lambda: k8s.Provider("staging", kubeconfig=kubeconfig, context="ctx"))
    assert ours == sdk and ours["staging"]["type"] == "pulumi:providers:kubernetes"
    assert ours["staging"]["inputs"].get("kubeconfig") == (kubeconfig or environment.get("KUBECONFIG"))


def test_the_program_imports_no_typed_sdk_module():
    import subprocess
    import sys
    code = ("import sys, components.program; "
            "print(sorted(m for m in sys.modules if m.startswith('pulumi_kubernetes')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
