"""Llama Stack (or OGX), configured to use the MCP server as a tool connector."""

from __future__ import annotations

from typing import Any, Mapping, Optional

import pulumi

from . import llama_stack_config as server_config
from . import exposure, meta, outbound, telemetry, workload
from .facts import LLAMA_STACK_SERVING_CERT_SECRET, StackFacts
from .meta import Manifest
from .registry import public_url, register_all
from .settings import LlamaStackSettings
from .workload import PodTemplate

CONTAINER = meta.LLAMA_STACK
SECRET_NAME = f"{meta.LLAMA_STACK}-secrets"
CONFIG_MAP_NAME = f"{meta.LLAMA_STACK}-config"
DATA_CLAIM = f"{meta.LLAMA_STACK}-data"

SECRET_ENV = {"inferenceApiKey": server_config.INFERENCE_API_KEY_ENV,
              "postgresPassword": server_config.POSTGRES_PASSWORD_ENV}


def secret_env(secrets: Mapping[str, Any]) -> dict[str, str]:
    """Secret key -> the environment variable it fills, for the secrets that are set."""
    return {key: SECRET_ENV[key] for key in sorted(secrets) if key in SECRET_ENV}


def command(stack: LlamaStackSettings) -> list[str]:
    # The port is explicit: the CLI's own default overrides server.port in the file.
    port = ["--port", str(meta.LLAMA_STACK_PORT)]
    if stack.distribution == "ogx":
        return ["ogx", "run", server_config.config_path(), *port, *(["--insecure"] if stack.tls.insecure else [])]
    return ["llama", "stack", "run", server_config.config_path(), *port]


def config_map(facts: StackFacts, config_text: str) -> Manifest:
    return meta.manifest("v1", "ConfigMap", facts.llama_stack.app.metadata(CONFIG_MAP_NAME),
                         data={server_config.CONFIG_FILE: config_text})


def secret(facts: StackFacts, secrets: Mapping[str, Any]) -> Optional[Manifest]:
    env = secret_env(secrets)
    if not env:
        return None
    return meta.manifest("v1", "Secret", facts.llama_stack.app.metadata(SECRET_NAME), type="Opaque",
                         stringData={name: secrets[key] for key, name in env.items()})


def data_claim(facts: StackFacts) -> Optional[Manifest]:
    storage = facts.settings.llama_stack.storage
    if storage.backend != "sqlite":
        return None
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage.size}}}
    if storage.storage_class_name:
        spec["storageClassName"] = storage.storage_class_name
    claim = meta.manifest("v1", "PersistentVolumeClaim", facts.llama_stack.app.metadata(DATA_CLAIM), spec=spec)
    if storage.keep_on_destroy:
        claim["metadata"]["labels"][meta.KEEP_ON_DESTROY] = "true"
    return claim


def deployment(facts: StackFacts, config_text: str, secrets: Mapping[str, Any]) -> Manifest:
    settings, a, stack = facts.settings, facts.llama_stack.app, facts.settings.llama_stack
    uid = meta.LLAMA_STACK_UID if settings.platform == "kubernetes" else None
    data = server_config.data_dir(stack)

    volumes: list[dict[str, Any]] = [{"name": "config", "configMap": {"name": CONFIG_MAP_NAME}}]
    mounts: list[dict[str, Any]] = [{"name": "config", "mountPath": server_config.CONFIG_DIR, "readOnly": True}]
    if stack.storage.backend == "sqlite":
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": DATA_CLAIM}})
        mounts.append({"name": "data", "mountPath": data})
    else:
        scratch_volume, scratch_mount = meta.empty_dir("data", data)
        volumes.append(scratch_volume)
        mounts.append(scratch_mount)
    for name, path in (("tmp", "/tmp"), ("cache", "/.cache")):
        v, m = meta.empty_dir(name, path)
        volumes.append(v)
        mounts.append(m)
    cert = facts.llama_stack.tls_secret
    if cert:
        volumes.append({"name": "tls", "secret": {"secretName": cert}})
        mounts.append({"name": "tls", "mountPath": server_config.TLS_DIR, "readOnly": True})
    if stack.auth.provider == "kubernetes":
        volumes.append({"name": "kube-ca", "configMap": {"name": "kube-root-ca.crt",
                                                         "items": [{"key": "ca.crt", "path": "ca.crt"}]}})
        mounts.append({"name": "kube-ca", "mountPath": server_config.KUBE_CA_DIR, "readOnly": True})

    outside = outbound.pod_parts(facts, stack.image_ref, meta.container_security_context(uid))
    volumes += outside.volumes
    mounts += outside.mounts
    init_containers = outside.init_containers

    env: list[dict[str, Any]] = [{"name": "KUBERNETES_MCP_URL", "value": facts.mcp.url}, *outside.env]
    env += [{"name": name, "valueFrom": {"secretKeyRef": {"name": SECRET_NAME, "key": name}}}
            for name in secret_env(secrets).values()]
    env += [{"name": server_config.extra_key_env(e.id), "valueFrom": {"secretKeyRef": {
        "name": e.api_key_secret.name, "key": e.api_key_secret.key}}}
        for e in stack.extra_inference if e.api_key_secret is not None]
    env += telemetry.llama_stack_env(settings.telemetry, stack.distribution)
    extra = workload.extras(stack)
    env += extra.env
    volumes += extra.volumes
    mounts += extra.mounts

    container = {
        "name": CONTAINER,
        "image": stack.image_ref,
        "command": telemetry.instrumented(command(stack), settings.telemetry),
        "env": env,
        "ports": [{"name": "http", "containerPort": meta.LLAMA_STACK_PORT, "protocol": "TCP"}],
        # A cold start imports many providers; give it five minutes before liveness counts.
        **meta.http_probes(server_config.HEALTH_PATH, scheme="HTTPS" if stack.serves_tls else "HTTP", startup_seconds=300),
        "resources": workload.container_resources(stack),
        "securityContext": meta.container_security_context(uid),
        "volumeMounts": mounts,
    }
    pod = PodTemplate(containers=[container], service_account=a.name, volumes=volumes,
                      init_containers=init_containers, security_context=meta.pod_security_context(uid, uid),
                      annotations=workload.config_checksum(config_text), automount_token=False)
    return workload.deployment(a, stack, pod, recreate=stack.storage.backend == "sqlite")


def manifests(facts: StackFacts, secrets: Mapping[str, Any]) -> list[Manifest]:
    settings, a, stack = facts.settings, facts.llama_stack.app, facts.settings.llama_stack
    service_annotations = None
    if facts.llama_stack.openshift_serving_cert:
        service_annotations = workload.serving_cert(LLAMA_STACK_SERVING_CERT_SECRET)
    config_text = server_config.render_text(stack, facts.mcp.url)
    out = [workload.service_account(a, automount=False), config_map(facts, config_text)]
    out += [m for m in (secret(facts, secrets), data_claim(facts), outbound.trusted_ca_config_map(facts)) if m]
    out += [deployment(facts, config_text, secrets), workload.service(a, service_annotations),
            *workload.availability(a, stack)]
    backend = exposure.Backend(timeout_seconds=stack.route.timeout_seconds, tls=stack.serves_tls,
                               ca_config_map=stack.route.backend_ca_config_map)
    out += exposure.objects(a, settings.platform, stack.route, backend)
    return out


class LlamaStack(pulumi.ComponentResource):
    """The agent API server, its config, storage and exposure."""

    url: Optional[pulumi.Output[str]]
    internal_url: pulumi.Output[str]

    def __init__(self, name: str, facts: StackFacts, secrets: Mapping[str, pulumi.Output[str]],
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("llamastack-mcp:index:LlamaStack", name, None, opts)
        created = register_all(manifests(facts, secrets), pulumi.ResourceOptions(parent=self))
        a = facts.llama_stack.app
        self.internal_url = pulumi.Output.from_input(facts.llama_stack.internal_url)
        self.url = public_url(created, a.namespace, a.name)
        outputs: dict[str, Any] = {"internalUrl": self.internal_url}
        if self.url is not None:
            outputs["url"] = self.url
        self.register_outputs(outputs)
