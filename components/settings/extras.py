"""What a platform team adds to a server's pods beyond the settings (`<server>.extraEnv`, `<server>.extraVolumes`):
environment variables, secret values only by reference, and volumes from ConfigMaps, Secrets or emptyDirs."""

from __future__ import annotations

import re
from typing import Annotated, Optional

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from .base import Settings
from .fields import DnsLabel, ObjectName

# A variable with one of these words in its name holds a secret: it comes from a Secret, never from the stack file in
# clear. Whole words between underscores: API_KEY and VENDOR_TOKEN are secrets, MAX_TOKENS and KEYCLOAK_URL are not.
SECRET_LOOKING = re.compile(r"(^|_)(KEY|TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIALS?)(_|$)", re.I)
# Which setting governs each variable the program sets, for the refusal of an extraEnv that names one.
GOVERNED_BY = {"SSL_CERT_FILE": "llamaStack.trust", "REQUESTS_CA_BUNDLE": "llamaStack.trust",
               "KUBERNETES_MCP_URL": "the MCP server's Service", "POSTGRES_PASSWORD": "the secret postgresPassword",
               "INFERENCE_API_KEY": "the secret inferenceApiKey, or extraInference[].apiKeySecret",
               "OTEL_": "telemetry", "HTTP": "llamaStack.proxy", "NO_PROXY": "llamaStack.proxy",
               "no_proxy": "llamaStack.proxy", "http": "llamaStack.proxy"}


def governed_by(name: str) -> str:
    return next((setting for prefix, setting in GOVERNED_BY.items() if name.startswith(prefix)), "its own setting")


def _env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise PydanticCustomError("env_name", "must be a C identifier (letters, digits, _; not starting with a digit)")
    return value


def _mount_path(value: str) -> str:
    if not value.startswith("/") or "/../" in f"{value}/" or value == "/":
        raise PydanticCustomError("mount_path", "must be an absolute path below /, without ..")
    return value


class KeyRef(Settings):
    """One key of a Secret or ConfigMap of the stack's namespace."""

    name: ObjectName
    """The Secret's or ConfigMap's name."""
    key: Annotated[str, Field(pattern=r"^[-._a-zA-Z0-9]{1,253}$")]
    """The key."""


class ExtraEnv(Settings):
    """An environment variable of the server's container (`<server>.extraEnv[]`): one of value, secretKeyRef,
    configMapKeyRef."""

    name: Annotated[str, AfterValidator(_env_name)]
    """The variable's name; not one the program sets."""
    value: Optional[str] = None
    """A plain value, written in the Deployment: never a secret (a name like *KEY*, *TOKEN*, *PASSWORD*,
    *SECRET* is refused a plain value)."""
    secret_key_ref: Optional[KeyRef] = None
    """A Secret's key (name, key): for anything secret."""
    config_map_key_ref: Optional[KeyRef] = None
    """A ConfigMap's key (name, key)."""


class ExtraVolume(Settings):
    """A volume mounted into the server's container (`<server>.extraVolumes[]`): one of configMap, secret,
    emptyDir."""

    name: DnsLabel
    """The volume's name; not one the program uses."""
    mount_path: Annotated[str, AfterValidator(_mount_path)]
    """Where the container sees it; not where the program mounts something."""
    config_map: ObjectName = ""
    """A ConfigMap of the stack's namespace (read-only)."""
    secret: ObjectName = ""
    """A Secret of the stack's namespace (read-only)."""
    empty_dir: bool = False
    """A scratch directory that lives as long as the pod."""


class Reserved:
    """What the program itself puts in a server's pod, which extraEnv and extraVolumes may not touch (kept in step
    with what the program renders by tests/unit/test_outbound.py)."""

    def __init__(self, env: set[str], env_prefixes: tuple[str, ...], volumes: set[str], paths: tuple[str, ...]):
        self.env, self.env_prefixes, self.volumes, self.paths = env, env_prefixes, volumes, paths

    def env_taken(self, name: str) -> bool:
        return name in self.env or name.startswith(self.env_prefixes)

    def path_taken(self, path: str) -> bool:
        """The same path, one inside a program's mount, or one holding a program's mount."""
        p = path.rstrip("/") + "/"
        return any(p.startswith(q.rstrip("/") + "/") or q.rstrip("/").startswith(p.rstrip("/") + "/")
                   for q in self.paths)


PROXY_ENV = {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"}
RESERVED = {
    "mcpServer": Reserved(env=set(), env_prefixes=("OTEL_",),
                          volumes={"config", "config-secret", "fleet", "kiali-ca", "oauth-ca", "tls", "tmp"},
                          paths=("/etc/kubernetes-mcp-server", "/etc/kubernetes-mcp-server-fleet",
                                 "/etc/kubernetes-mcp-server-kiali-ca", "/etc/kubernetes-mcp-server-oauth-ca",
                                 "/etc/kubernetes-mcp-server.d", "/tmp",
                                 "/app")),
    # The proxy variables are the program's only when llamaStack.proxy is set (rules.py).
    "llamaStack": Reserved(env={"INFERENCE_API_KEY", "KUBERNETES_MCP_URL", "POSTGRES_PASSWORD", "SSL_CERT_FILE",
                                "REQUESTS_CA_BUNDLE"},
                           env_prefixes=("OTEL_", "INFERENCE_API_KEY_"),  # _<ID>: llamaStack.extraInference
                           volumes={"cache", "config", "data", "kube-ca", "mcp-ca", "tls", "tmp", "trust", "extra-ca",
                                    "trusted-ca"},
                           paths=("/.cache", "/.llama", "/.ogx", "/etc/llama-stack", "/tmp")),
}
