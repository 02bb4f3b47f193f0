"""dev's objects, from a Python program that imports the component (docs/component.md)."""

import pulumi

from llamastack_mcp import LlamaStackMcp

agents = LlamaStackMcp("agents", {
    "platform": "openshift",
    "namespace": {"name": "llama-stack", "create": True},
    "mcp_server": {
        "image": "quay.io/containers/kubernetes_mcp_server:v0.0.67",
        "replicas": 1,
        "rollout_timeout_seconds": 120,
        "resources": {"requests": {"cpu": "50m", "memory": "96Mi", "ephemeral_storage": "32Mi"},
                      "limits": {"cpu": "500m", "memory": "256Mi", "ephemeral_storage": "128Mi"}},
        # Writes everywhere, acknowledged; only for the callers llama_stack.auth names.
        "rbac": {"preset": "full", "scope": "cluster", "allow_cluster_wide_write": True},
        "toolsets": ["core", "config"],
        "log_level": 2,
    },
    "llama_stack": {
        "distribution": "llama-stack",
        "version": "0.7.3",
        "image": "docker.io/llamastack/distribution-starter:0.7.3",
        "replicas": 1,
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi", "ephemeral_storage": "128Mi"},
                      "limits": {"cpu": "1", "memory": "1Gi", "ephemeral_storage": "512Mi"}},
        "inference": {"provider": "vllm", "url": "http://vllm.models.svc.cluster.local:8000/v1"},
        "storage": {"backend": "sqlite", "size": "5Gi"},
        "auth": {"allowed_groups": ["llama-stack-developers"]},  # who may drive the agent's rights
        "route": {"enabled": True, "timeout_seconds": 300},
    },
    "network_policy": {"enabled": True},
    "monitoring": {"service_monitor": False, "prometheus_rule": False},
})

pulumi.export("namespace", agents.namespace)
pulumi.export("mcpServerUrl", agents.mcp_server_url)
pulumi.export("llamaStackUrl", agents.llama_stack_url)
