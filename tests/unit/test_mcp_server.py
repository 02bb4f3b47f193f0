"""What the KubernetesMcpServer component registers, per preset, scope and platform."""

from __future__ import annotations

import pytest

from support import container, refused, run_variant
from support.variants import CLUSTER_SCOPE, PW

MCP = "kubernetes-mcp-server"
CLUSTER_NAME = f"llama-stack-{MCP}"


def rules_of(run, kind, name):
    return run.one(kind, name)["rules"]


def verbs_on(rules, resource, group=""):
    return {v for r in rules if group in r["apiGroups"] and resource in r["resources"] for v in r["verbs"]}


def test_children_are_parented_to_the_component(dev):
    component = next(r for r in dev.resources if r.typ == "llamastack-mcp:index:KubernetesMcpServer")
    children = [r for r in dev.objects if r.parent.endswith("KubernetesMcpServer::mcp-server")]
    kinds = {r.kind for r in children}
    assert {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service", "Namespace"} <= kinds
    assert component.name == "mcp-server"


def test_labels_are_consistent(dev):
    for manifest in dev.find("Deployment") + dev.find("Service") + dev.find("ServiceAccount"):
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "pulumi"
        assert labels["app.kubernetes.io/part-of"] == "llamastack-mcp"
        assert {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"} <= set(labels)


def test_server_runs_stateless_http_with_health_probes(dev):
    c = container(dev, MCP)
    args = c["args"]
    assert args[:2] == ["--port", "8080"] and "--stateless" in args
    assert args[args.index("--toolsets") + 1] == "core,config"
    assert args[args.index("--log-level") + 1] == "2"
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["path"] == "/healthz" and c[probe]["httpGet"]["port"] == "http"


def test_full_preset_grants_crud_and_the_tools_reads(preview):
    dev = run_variant(preview=preview, mcpServer={"rbac": {**CLUSTER_SCOPE, "allowClusterWideWrite": True}})
    rules = rules_of(dev, "ClusterRole", CLUSTER_NAME)
    crud = {"get", "list", "watch", "create", "update", "patch", "delete"}
    for resource in ("pods", "services", "configmaps", "secrets"):
        assert verbs_on(rules, resource) == crud, resource
    assert verbs_on(rules, "deployments", "apps") == crud
    assert verbs_on(rules, "jobs", "batch") == crud and verbs_on(rules, "cronjobs", "batch") == crud
    for resource in ("namespaces", "events", "nodes"):
        assert verbs_on(rules, resource) == {"get", "list", "watch"}
    assert verbs_on(rules, "pods/log") == {"get"}
    assert verbs_on(rules, "pods", "metrics.k8s.io") == {"get", "list"}
    assert "--read-only" not in container(dev, MCP)["args"]
    binding = dev.one("ClusterRoleBinding", CLUSTER_NAME)
    assert binding["roleRef"]["name"] == CLUSTER_NAME
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": MCP, "namespace": "llama-stack"}]


def test_read_only_preset_reads_without_secrets(preview):
    run = run_variant("prod", preview=preview, secrets={"postgresPassword": "pw"}, mcpServer={"passthrough": False})
    rules = rules_of(run, "ClusterRole", CLUSTER_NAME)
    assert all(set(r["verbs"]) <= {"get", "list", "watch"} for r in rules)
    assert not any("secrets" in r["resources"] for r in rules)
    assert verbs_on(rules, "pods") == {"get", "list", "watch"}
    assert "--read-only" in container(run, MCP)["args"]
    assert "--disable-destructive" in container(run, MCP)["args"]


def test_view_preset_binds_the_builtin_view_role(preview):
    run = run_variant(preview=preview, mcpServer={"rbac": {**CLUSTER_SCOPE, "preset": "view"}})
    assert run.find("ClusterRole") == []
    assert run.one("ClusterRoleBinding")["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                                        "kind": "ClusterRole", "name": "view"}
    assert "--read-only" in container(run, MCP)["args"]


def test_custom_preset_uses_the_rules_as_given(preview):
    rules = [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]}]
    run = run_variant(preview=preview, mcpServer={"rbac": {**CLUSTER_SCOPE, "preset": "custom", "rules": rules}})
    assert rules_of(run, "ClusterRole", CLUSTER_NAME) == rules


@pytest.mark.parametrize("preset", ["full", "read-only", "view", "custom"])
def test_namespace_scope_stays_in_the_listed_namespaces(preset, preview):
    extra = {"rules": [{"resources": ["pods"], "verbs": ["get"]}]} if preset == "custom" else {}
    run = run_variant(preview=preview, mcpServer={"rbac": {"preset": preset, "scope": "namespaces",
                                                            "namespaces": ["team-a", "team-b"], **extra}})
    bindings = run.find("RoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    for b in bindings:
        assert b["subjects"][0]["name"] == MCP and b["subjects"][0]["namespace"] == "llama-stack"
    # One ClusterRole holds the namespaced rules; only the RoleBindings use it, so it grants nothing
    # outside the listed namespaces (the cluster layer asks the API server: test_cluster_rbac).
    rules_role = "view" if preset == "view" else f"{CLUSTER_NAME}-namespaced"
    assert {b["roleRef"]["kind"] + "/" + b["roleRef"]["name"] for b in bindings} == {f"ClusterRole/{rules_role}"}
    assert run.find("Role") == []
    bound_cluster_wide = {b["roleRef"]["name"] for b in run.find("ClusterRoleBinding")}
    assert rules_role not in bound_cluster_wide
    # Bound cluster-wide: at most listing namespaces (and projects on OpenShift), never workloads or nodes.
    for role in run.find("ClusterRole"):
        if role["metadata"]["name"] not in bound_cluster_wide:
            continue
        for rule in role["rules"]:
            assert set(rule["resources"]) <= {"namespaces", "projects"}
            assert set(rule["verbs"]) <= {"get", "list", "watch"}


def test_openshift_leaves_the_uid_to_the_platform(dev):
    spec = dev.one("Deployment", MCP)["spec"]["template"]["spec"]
    c = spec["containers"][0]["securityContext"]
    assert "runAsUser" not in c and "runAsUser" not in spec["securityContext"]
    assert c["runAsNonRoot"] and c["readOnlyRootFilesystem"] and not c["allowPrivilegeEscalation"]
    assert c["capabilities"] == {"drop": ["ALL"]} and c["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"name": "tmp", "emptyDir": {}} in spec["volumes"]
    assert dev.find("SecurityContextConstraints") == []


def test_kubernetes_runs_as_the_image_user(preview):
    run = run_variant(preview=preview, platform="kubernetes", llamaStack={"route": {"host": "ls.example.com"}})
    spec = run.one("Deployment", MCP)["spec"]["template"]["spec"]
    assert spec["containers"][0]["securityContext"]["runAsUser"] == 65532
    assert spec["securityContext"]["runAsUser"] == 65532
    assert run.find("Route") == [] and run.find("SecurityContextConstraints") == []
    # ProjectAPI only exists on OpenShift
    assert not any("projects" in r["resources"] for r in run.one("ClusterRole", CLUSTER_NAME)["rules"])


def test_scc_pins_the_uid_and_is_granted_to_the_service_account(preview):
    run = run_variant(preview=preview, mcpServer={"scc": {"create": True, "uid": 1001}})
    scc = run.one("SecurityContextConstraints")
    assert scc["runAsUser"] == {"type": "MustRunAs", "uid": 1001}
    assert scc["allowPrivilegeEscalation"] is False and scc["requiredDropCapabilities"] == ["ALL"]
    assert scc["allowPrivilegedContainer"] is False
    use = run.one("ClusterRole", f"{CLUSTER_NAME}-scc")["rules"][0]
    assert use["verbs"] == ["use"] and use["resourceNames"] == [scc["metadata"]["name"]]
    binding = run.one("RoleBinding", f"{MCP}-scc")
    assert binding["subjects"][0]["name"] == MCP and binding["roleRef"]["name"] == f"{CLUSTER_NAME}-scc"
    pod = run.one("Deployment", MCP)["spec"]["template"]
    assert pod["spec"]["containers"][0]["securityContext"]["runAsUser"] == 1001
    assert pod["metadata"]["annotations"]["openshift.io/required-scc"] == scc["metadata"]["name"]


def test_dev_has_fixed_replicas_and_no_hpa(dev):
    assert dev.one("Deployment", MCP)["spec"]["replicas"] == 1
    assert dev.find("HorizontalPodAutoscaler") == [] and dev.find("PodDisruptionBudget") == []


def test_prod_autoscales_and_keeps_one_pod_up(prod):
    deployment = prod.one("Deployment", MCP)
    assert "replicas" not in deployment["spec"], "the HPA owns replicas"
    hpa = prod.one("HorizontalPodAutoscaler", MCP)["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 5)
    assert hpa["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": MCP}
    assert "behavior" not in hpa, "prod keeps Kubernetes' scale-down window (300 s)"
    pdb = prod.one("PodDisruptionBudget", MCP)["spec"]
    assert pdb["minAvailable"] == 1
    assert pdb["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_containers_are_sized_from_the_stack_file(prod):
    from ops import offline
    values, _ = offline.stack_settings("prod")

    def as_kubernetes(amounts: dict) -> dict:  # the setting ephemeralStorage is the resource ephemeral-storage
        return {"ephemeral-storage" if k == "ephemeralStorage" else k: v for k, v in amounts.items()}

    for name, section in ((MCP, "mcpServer"), ("llama-stack", "llamaStack")):
        written = values[section]["resources"]
        assert container(prod, name)["resources"] == {k: as_kubernetes(v) for k, v in written.items()}


def test_the_scale_down_window_is_rendered_only_when_set(preview):
    run = run_variant("prod", preview=preview, secrets=PW,
                      mcpServer={"autoscaling": {"scaleDownStabilizationSeconds": 45}},
                      llamaStack={"autoscaling": {"scaleDownStabilizationSeconds": 0}})
    for app, seconds in ((MCP, 45), ("llama-stack", 0)):
        assert run.one("HorizontalPodAutoscaler", app)["spec"]["behavior"] == {
            "scaleDown": {"stabilizationWindowSeconds": seconds}}


@pytest.mark.parametrize("seconds, allowed", [(-1, "greater than or equal to 0"), (3601, "less than or equal to 3600")])
def test_a_scale_down_window_outside_what_kubernetes_takes_is_refused(seconds, allowed):
    refused(run_variant(mcpServer={"autoscaling": {"enabled": True, "scaleDownStabilizationSeconds": seconds}}),
            f"mcpServer.autoscaling.scaleDownStabilizationSeconds = {seconds}: must be {allowed}")


def test_static_replicas_of_two_get_a_pdb(preview):
    run = run_variant(preview=preview, mcpServer={"replicas": 2})
    assert run.one("Deployment", MCP)["spec"]["replicas"] == 2
    assert run.find("HorizontalPodAutoscaler") == [] and len(run.find("PodDisruptionBudget", MCP)) == 1


def test_service_and_outputs(dev, preview):
    svc = dev.one("Service", MCP)["spec"]
    assert svc["type"] == "ClusterIP" and svc["ports"] == [{"name": "http", "port": 8080, "targetPort": "http",
                                                           "protocol": "TCP"}]
    if not preview:  # in preview, outputs of resources not yet created may be unknown
        assert dev.outputs["mcpServerUrl"] == f"http://{MCP}.llama-stack.svc.cluster.local:8080/mcp"
        assert dev.outputs["namespace"] == "llama-stack"
        assert dev.outputs["mcpServiceAccount"] == MCP
        assert "mcpServerRouteUrl" not in dev.outputs


def test_route_with_oauth(preview):
    run = run_variant(preview=preview, mcpServer={
        "route": {"enabled": True, "host": "mcp.apps.example.com"},
        "oauth": {"enabled": True, "authorizationUrl": "https://sso.example.com/realms/k8s", "audience": "mcp"}})
    route = run.one("Route", MCP)["spec"]
    assert route["host"] == "mcp.apps.example.com"
    assert route["tls"] == {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}
    assert route["to"]["name"] == MCP and route["port"] == {"targetPort": "http"}
    args = container(run, MCP)["args"]
    assert args[args.index("--authorization-url") + 1] == "https://sso.example.com/realms/k8s"
    assert args[args.index("--oauth-audience") + 1] == "mcp" and "--require-oauth" in args
    if not preview:
        assert run.outputs["mcpServerRouteUrl"] == "https://mcp.apps.example.com/mcp"


def test_ingress_on_kubernetes(preview):
    run = run_variant(preview=preview, platform="kubernetes", llamaStack={"route": {"enabled": False}},
                      mcpServer={"route": {"enabled": True, "host": "mcp.example.com", "allowUnauthenticated": True,
                                           "ingressClassName": "nginx"}})
    ingress = run.one("Ingress", MCP)["spec"]
    assert ingress["tls"][0]["hosts"] == ["mcp.example.com"] and ingress["ingressClassName"] == "nginx"
    backend = ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": MCP, "port": {"name": "http"}}


def test_existing_namespace_is_not_created(preview):
    run = run_variant(preview=preview, namespace={"name": "agents", "create": False},
                      mcpServer={"rbac": CLUSTER_SCOPE | {"preset": "read-only"}})
    assert run.find("Namespace") == []
    assert {m["metadata"].get("namespace") for m in run.manifests() if m["kind"] not in
            ("ClusterRole", "ClusterRoleBinding")} == {"agents"}


@pytest.mark.parametrize("stack, seconds", [("dev", "120"), ("prod", "300")])
def test_rollouts_give_up_after_the_stacks_timeout(stack, seconds):
    run = run_variant(stack, secrets={"postgresPassword": "pw"})
    for name in ("kubernetes-mcp-server", "llama-stack"):
        annotations = run.one("Deployment", name)["metadata"]["annotations"]
        expected = seconds if name == "kubernetes-mcp-server" else "300"
        assert annotations["pulumi.com/timeoutSeconds"] == expected


@pytest.mark.parametrize("preview", [False, True])
def test_prods_stopping_pods_serve_on_until_the_proxies_have_dropped_them(preview):
    """Measured on the real node: without the delay a promotion under load failed tool calls."""
    prod = run_variant("prod", preview=preview, secrets={"postgresPassword": "pw"})
    dev = run_variant("dev", preview=preview)
    for name in (MCP, "llama-stack"):
        assert container(prod, name)["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}
        assert "lifecycle" not in container(dev, name), "off unless set"
    tuned = run_variant(mcpServer={"shutdownDelaySeconds": 12})
    assert container(tuned, MCP)["lifecycle"]["preStop"]["sleep"]["seconds"] == 12


def test_services_skip_the_providers_ten_second_endpoint_settle(prod):
    """Measured by `make bench-deploy`: 10 s per Service otherwise; the Deployment's await covers readiness."""
    for name in (MCP, "llama-stack"):
        assert prod.one("Service", name)["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
        assert "pulumi.com/skipAwait" not in prod.one("Deployment", name)["metadata"]["annotations"]


@pytest.mark.parametrize("server", ["kubernetes-mcp-server", "llama-stack"])
def test_pods_get_no_service_link_variables(dev, server):
    # Kubernetes would set LLAMA_STACK_PORT=tcp://<ip>:8321 for the Service llama-stack: Llama Stack
    # reads LLAMA_STACK_PORT as its port and exits (found on the real node). KUBERNETES_SERVICE_HOST
    # and _PORT, which in-cluster clients need, are set whatever this says.
    assert dev.one("Deployment", server)["spec"]["template"]["spec"]["enableServiceLinks"] is False
