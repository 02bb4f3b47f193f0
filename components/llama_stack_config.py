"""The Llama Stack / OGX server's own config file, in the dialect of the chosen version.

A config in the wrong dialect starts fine and silently drops the MCP tools
(0.7 empties `tool_groups`), so each dialect is rendered and tested on its own.
Secrets never appear here: they are `${env.NAME}` references that the pod's
environment fills from a Secret.
"""

from __future__ import annotations

from typing import Any, Optional

import yaml

from .meta import LLAMA_STACK_PORT
from .settings import MAIN_CONNECTOR_ID, LlamaStackSettings

CONFIG_DIR = "/etc/llama-stack"
CONFIG_FILE = "config.yaml"
HEALTH_PATH = "/v1/health"  # the probes' path: open to callers without an identity
TLS_DIR = "/etc/llama-stack/tls"
# The cluster's CA, from the kube-root-ca.crt ConfigMap every namespace has: the
# kubernetes auth provider trusts the API server without a ServiceAccount token.
KUBE_CA_DIR = "/etc/llama-stack/kube-ca"
KUBE_API = "https://kubernetes.default.svc"
MCP_PROVIDER_ID = "model-context-protocol"
# Environment variables the pod sets from its Secret.
INFERENCE_API_KEY_ENV = "INFERENCE_API_KEY"
POSTGRES_PASSWORD_ENV = "POSTGRES_PASSWORD"


def data_dir(stack: LlamaStackSettings) -> str:
    """Where state lives: the image's home-relative state directory (group-writable for OpenShift)."""
    return "/.ogx" if stack.distribution == "ogx" else "/.llama"


def config_path() -> str:
    return f"{CONFIG_DIR}/{CONFIG_FILE}"


def extra_key_env(extra_id: str) -> str:
    """The variable holding an extra endpoint's key (from its Secret): INFERENCE_API_KEY_<ID>."""
    return f"{INFERENCE_API_KEY_ENV}_{extra_id.upper().replace('-', '_')}"


def _provider(provider_id: str, kind: str, url: str, key_env: str) -> dict[str, Any]:
    config: dict[str, Any] = {"base_url": url}
    if kind == "vllm":
        config["api_token"] = f"${{env.{key_env}:=fake}}"
    elif kind == "openai":
        config["api_key"] = f"${{env.{key_env}:=}}"
    return {"provider_id": provider_id, "provider_type": f"remote::{kind}", "config": config}


def _inference_providers(stack: LlamaStackSettings) -> list[dict[str, Any]]:
    main = stack.inference
    return [_provider(main.provider, main.provider, main.url, INFERENCE_API_KEY_ENV),
            *(_provider(e.id, e.provider, e.url, extra_key_env(e.id)) for e in stack.extra_inference)]


def _models(stack: LlamaStackSettings) -> list[dict[str, Any]]:
    served = [(stack.inference.provider, stack.inference.model)] if stack.inference.model else []
    served += [(e.id, model) for e in stack.extra_inference for model in e.models]
    return [{"model_id": model, "provider_id": provider, "provider_model_id": model, "model_type": "llm",
             "metadata": {}} for provider, model in served]


def _backends(stack: LlamaStackSettings) -> dict[str, Any]:
    storage = stack.storage
    if storage.backend == "sqlite":
        root = data_dir(stack)
        return {"kv_default": {"type": "kv_sqlite", "db_path": f"{root}/kvstore.db"},
                "sql_default": {"type": "sql_sqlite", "db_path": f"{root}/sql_store.db"}}
    pg = storage.postgres
    common = {"host": pg.host, "port": pg.port, "db": pg.database, "user": pg.user,
              "password": f"${{env.{POSTGRES_PASSWORD_ENV}}}"}
    return {"kv_default": {"type": "kv_postgres", **common},
            "sql_default": {"type": "sql_postgres", **common}}


def _kv(namespace: str) -> dict[str, str]:
    return {"namespace": namespace, "backend": "kv_default"}


def _sql(table: str) -> dict[str, str]:
    return {"table_name": table, "backend": "sql_default"}


def _stores(stack: LlamaStackSettings) -> dict[str, Any]:
    stores = {"metadata": _kv("registry"), "inference": _sql("inference_store"),
              "conversations": _sql("openai_conversations")}
    if stack.distribution == "ogx":  # OGX moved prompts and connectors to SQL tables
        return {**stores, "prompts": _sql("prompts"), "connectors": _sql("connectors")}
    return {**stores, "prompts": _kv("prompts"), "connectors": _kv("connectors")}


def agent_api(stack: LlamaStackSettings) -> str:
    """The OpenAI-compatible agent API (Responses): `agents` up to 0.6, `responses` since 0.7."""
    return "agents" if stack.dialect == "tool_groups" else "responses"


def _agent_provider(stack: LlamaStackSettings) -> dict[str, Any]:
    responses = {**_sql("responses"), "max_write_queue_size": 10000, "num_writers": 4}
    if stack.distribution == "ogx":
        return {"provider_id": "builtin", "provider_type": "inline::builtin",
                "config": {"persistence": {"responses": responses}}}
    persistence = {"agent_state": _kv("agents"), "responses": responses}
    if stack.dialect == "tool_groups":
        return {"provider_id": "meta-reference", "provider_type": "inline::meta-reference",
                "config": {"persistence": persistence}}
    return {"provider_id": "builtin", "provider_type": "inline::builtin", "config": {"persistence": persistence}}


def _agent_companions(stack: LlamaStackSettings) -> dict[str, list[dict[str, Any]]]:
    """What the agent API needs beside inference and tools: files and a vector store.

    Both keep their metadata in the storage backends (so in PostgreSQL when
    that is the backend); uploaded file bodies stay on the pod's data volume.
    """
    return {
        "files": [{"provider_id": "builtin-files", "provider_type": "inline::localfs",
                   "config": {"storage_dir": f"{data_dir(stack)}/files",
                              "metadata_store": _sql("files_metadata")}}],
        "vector_io": [{"provider_id": "faiss", "provider_type": "inline::faiss",
                       "config": {"persistence": _kv("vector_io::faiss")}}],
    }


def mcp_servers(stack: LlamaStackSettings, mcp_url: str) -> list[tuple[str, str]]:
    """(id, url) of every MCP server the stack connects to, the in-cluster one first."""
    return [(MAIN_CONNECTOR_ID, mcp_url)] + [(s.id, s.url) for s in stack.extra_mcp_servers]


def auth(stack: LlamaStackSettings) -> Optional[dict[str, Any]]:
    """`server.auth`: who may call the server (same shape in 0.6, 0.7 and OGX)."""
    settings = stack.auth
    if settings.provider == "none":
        return None
    if settings.provider == "kubernetes":
        provider: dict[str, Any] = {"type": "kubernetes", "api_server_url": KUBE_API, "verify_tls": True,
                                    "tls_cafile": f"{KUBE_CA_DIR}/ca.crt",
                                    "claims_mapping": {"username": "roles", "groups": "roles"}}
    else:
        provider = {"type": "oauth2_token", "issuer": settings.oidc.issuer, "audience": settings.oidc.audience,
                    "jwks": {"uri": settings.oidc.jwks_url}, "claims_mapping": {"sub": "roles", "groups": "roles"}}
    config: dict[str, Any] = {"provider_config": provider}
    # Route rules are tried in order and a request no rule permits is refused. Both the username and the
    # groups map to roles, so one condition form serves both lists.
    permitted = [(group, f"members of {group} may use the API") for group in settings.allowed_groups]
    permitted += [(user, f"{user} may use the API") for user in settings.allowed_users]
    if permitted:
        # The kubelet's probes carry no identity: health stays open (a policy denies what no rule permits).
        config["route_policy"] = [{"permit": {"paths": HEALTH_PATH}, "description": "probes: health needs no identity"}]
        config["route_policy"] += [{"permit": {"paths": "*"}, "when": f"user with {name} in roles",
                                    "description": description} for name, description in permitted]
    return config


def render(stack: LlamaStackSettings, mcp_url: str) -> dict[str, Any]:
    server: dict[str, Any] = {"port": LLAMA_STACK_PORT}
    server_auth = auth(stack)
    if server_auth:
        server["auth"] = server_auth
    if stack.serves_tls:
        server.update(tls_certfile=f"{TLS_DIR}/tls.crt", tls_keyfile=f"{TLS_DIR}/tls.key")
    elif stack.distribution == "ogx":
        server["insecure"] = True  # only reachable with tls.insecure: true (serves_tls is False)
    config: dict[str, Any] = {
        "version": 2,
        "distro_name": "llamastack-mcp",
        "apis": sorted(["inference", "tool_runtime", "files", "vector_io", agent_api(stack)]),
        "providers": {
            "inference": _inference_providers(stack),
            "tool_runtime": [{"provider_id": MCP_PROVIDER_ID, "provider_type": "remote::model-context-protocol",
                              "config": {}}],
            agent_api(stack): [_agent_provider(stack)],
            **_agent_companions(stack),
        },
        "storage": {"backends": _backends(stack), "stores": _stores(stack)},
        "server": server,
    }
    resources: dict[str, Any] = {}
    models = _models(stack)
    if models:
        resources["models"] = models
    servers = mcp_servers(stack, mcp_url)
    if stack.dialect == "tool_groups":
        resources["tool_groups"] = [{"toolgroup_id": f"mcp::{sid}", "provider_id": MCP_PROVIDER_ID,
                                     "mcp_endpoint": {"uri": surl}} for sid, surl in servers]
    else:
        config["connectors"] = [{"connector_id": sid, "connector_type": "mcp", "url": surl,
                                 "server_label": sid} for sid, surl in servers]
    if resources:
        config["registered_resources"] = resources
    return config


# libyaml's dumper when present: the pure-Python one was a third of the program's run time.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def render_text(stack: LlamaStackSettings, mcp_url: str) -> str:
    return yaml.dump(render(stack, mcp_url), Dumper=_DUMPER, sort_keys=False)
