"""Run the real program (`__main__.py`) offline under Pulumi's mocks and collect what it registers.

Used by the tests, `make render`, `make policy` and `make bench`: one way to
run the program without a cluster or the Pulumi CLI, so they all see exactly
what `pulumi up` would create. Nothing in the program knows it runs here.
"""

from __future__ import annotations

import copy
import json
import runpy
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional


ROOT = Path(__file__).resolve().parents[2]
PROJECT = "llamastack-mcp"
SECRET_PLACEHOLDER = "<secret: set with pulumi config set --secret>"
# Pulumi marks a secret value in serialized properties with this signature.
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


@dataclass
class Registered:
    typ: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]  # as Pulumi serialized them: camelCase, numbers as floats, secrets wrapped
    provider: str = ""  # the explicit provider's reference (urn::id); "" for the default provider
    aliases: list[dict[str, Any]] = field(default_factory=list)  # the alias specs it was registered with
    retain_on_delete: bool = False  # registered with retainOnDelete: destroy and replacements leave it

    @property
    def cluster(self) -> str:
        """The fleet member this object is on (its provider's name), or "" for the stack's own cluster."""
        return self.provider.split("::")[3] if self.provider.count("::") >= 4 else ""

    @property
    def manifest(self) -> dict[str, Any]:
        """The Kubernetes object: integers restored, secret values unwrapped."""
        return _normalize(self.inputs, mask=False)

    @property
    def masked_manifest(self) -> dict[str, Any]:
        """The Kubernetes object with every secret value replaced by a visible placeholder."""
        return _normalize(self.inputs, mask=True)

    @property
    def kind(self) -> str:
        return self.inputs.get("kind", "")

    @property
    def key(self) -> tuple[str, Optional[str], str]:
        meta = self.inputs.get("metadata") or {}
        return self.kind, meta.get("namespace"), meta.get("name")


@dataclass
class Run:
    resources: list[Registered] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: Optional[str] = None
    logs: list[str] = field(default_factory=list)
    filled: list[str] = field(default_factory=list)  # secrets given a placeholder because unset

    @property
    def all_objects(self) -> list[Registered]:
        """The Kubernetes objects (not the components) on every cluster: the hub's and the fleet members'."""
        return [r for r in self.resources if r.custom and r.typ.startswith("kubernetes:")]

    @property
    def objects(self) -> list[Registered]:
        """The Kubernetes objects in the stack's own cluster."""
        return self.on("")

    def on(self, cluster: str) -> list[Registered]:
        """The Kubernetes objects on one cluster: "" for the stack's own, else a fleet member's name."""
        return [r for r in self.all_objects if r.cluster == cluster]

    @property
    def providers(self) -> list[Registered]:
        return [r for r in self.resources if r.typ == "pulumi:providers:kubernetes"]

    def manifests(self, masked: bool = False, cluster: str = "") -> list[dict[str, Any]]:
        return [r.masked_manifest if masked else r.manifest for r in self.on(cluster)]

    def find(self, kind: str, name: Optional[str] = None, namespace: Optional[str] = None) -> list[dict[str, Any]]:
        return [m for m in self.manifests() if m.get("kind") == kind
                and (name is None or m["metadata"].get("name") == name)
                and (namespace is None or m["metadata"].get("namespace") == namespace)]

    def one(self, kind: str, name: Optional[str] = None) -> dict[str, Any]:
        found = self.find(kind, name)
        if len(found) != 1:
            raise AssertionError(f"expected one {kind} {name or ''}, found {len(found)}")
        return found[0]


# What a member's token controller writes into a service-account-token Secret (the provider waits for it).
MOCK_CA = "-----BEGIN CERTIFICATE-----\nmock member CA\n-----END CERTIFICATE-----\n"


def mock_token(namespace: str, account: str) -> str:
    return f"mock-token-for-{namespace}-{account}"


def _as_the_api_server_fills(inputs: dict[str, Any]) -> dict[str, Any]:
    if inputs.get("type") != "kubernetes.io/service-account-token":
        return inputs
    import base64
    meta = inputs.get("metadata") or {}
    account = (meta.get("annotations") or {}).get("kubernetes.io/service-account.name", "")
    data = {"token": mock_token(meta.get("namespace", ""), account), "ca.crt": MOCK_CA,
            "namespace": meta.get("namespace", "")}
    return {**inputs, "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def _normalize(value: Any, mask: bool) -> Any:
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            inner = _normalize(value.get("value"), mask)
            return _placeholders(inner) if mask else inner
        return {k: _normalize(v, mask) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v, mask) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire format has only floats; Kubernetes wants integers
    return value


def _placeholders(value: Any) -> Any:
    """Keep a secret's shape (a Secret's keys stay visible), replace every value."""
    if isinstance(value, dict):
        return {k: _placeholders(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v) for v in value]
    return SECRET_PLACEHOLDER


# ------------------------------------------------------------- stack files

def project_file() -> dict[str, Any]:
    return _yaml12((ROOT / "Pulumi.yaml").read_text())


def stack_path(stack: str) -> Path:
    """A stack name (dev -> Pulumi.dev.yaml in the project) or a path to a stack file."""
    return Path(stack) if stack.endswith((".yaml", ".yml")) else ROOT / f"Pulumi.{stack}.yaml"


def stack_name(stack: str) -> str:
    return stack_path(stack).name.removeprefix("Pulumi.").rsplit(".", 1)[0]


def _yaml12(text: str) -> Any:
    """Parse YAML 1.2 as Pulumi's CLI does: `yes` and `5:00` stay strings (PyYAML's 1.1 reads 1 and 300)."""
    from ruamel.yaml import YAML
    return YAML(typ="safe", pure=True).load(text)


def stack_file(stack: str) -> dict[str, Any]:
    path = stack_path(stack)
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path.name}")
    return _yaml12(path.read_text()) or {}


def _holds_secure(value: Any) -> bool:
    """An encrypted value anywhere inside (`pulumi config set --secret --path a.b`)."""
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_holds_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_secure(v) for v in value)
    return False


def _short(key: str) -> str:
    return key.split(":", 1)[1] if key.startswith(f"{PROJECT}:") else key


def project_defaults() -> dict[str, Any]:
    """Pulumi.yaml's declared defaults, by top-level key."""
    return {_short(key): copy.deepcopy(decl["default"])
            for key, decl in (project_file().get("config") or {}).items()
            if isinstance(decl, dict) and "default" in decl}


def stack_settings(stack: str) -> tuple[dict[str, Any], set[str]]:
    """Settings as `pulumi up` would see them: Pulumi.yaml defaults, then the stack file.

    Like the CLI, a key set in the stack file replaces the default whole (no
    deep merge). Returns (top-level key -> value, names of secret keys set);
    encrypted values cannot be read here and become the placeholder.
    """
    values = project_defaults()
    secrets: set[str] = set()
    for key, value in (stack_file(stack).get("config") or {}).items():
        if not key.startswith(f"{PROJECT}:"):
            continue  # kubernetes:context and friends belong to the provider
        if _holds_secure(value):
            # Encrypted here (the whole key is then a secret for Pulumi): the
            # placeholder stands in, and the program says whether it may be secret.
            secrets.add(_short(key))
            continue
        values[_short(key)] = value
    return values, secrets


# -------------------------------------------------------------------- run

_LOCK = threading.Lock()


def run(settings: dict[str, Any], secrets: Optional[dict[str, str]] = None, preview: bool = False,
        stack: str = "dev", program: Optional[Path] = None, other_config: Optional[dict[str, str]] = None) -> Run:
    """Run `__main__.py` (or another program) with these settings under mocks; collect what it did.

    `other_config`: other namespaces' stack config as the CLI passes it (`kubernetes:kubeconfig`)."""
    import pulumi
    from pulumi.runtime import mocks as pulumi_mocks
    from pulumi.runtime import rpc
    from pulumi.runtime import settings as runtime_settings
    from pulumi.runtime.stack import wait_for_rpcs
    from pulumi.runtime.sync_await import _sync_await
    from google.protobuf import json_format

    result = Run()
    secrets = secrets or {}

    class Recorder(pulumi_mocks.MockMonitor):
        def RegisterResource(self, request):  # noqa: N802 (gRPC name)
            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                # Deserialized like the mock sees them: secrets keep their signature wrapper.
                inputs = rpc.deserialize_properties(request.object)
                aliases = [json_format.MessageToDict(a) for a in request.aliases]
                with _LOCK:
                    result.resources.append(Registered(request.type, request.name, request.parent,
                                                       request.custom, inputs, request.provider, aliases,
                                                       bool(request.retainOnDelete)))
            return response

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs):
            return f"{args.name}-id", _as_the_api_server_fills(args.inputs)

        def call(self, args: pulumi.runtime.MockCallArgs):
            return {}

    class Logs(pulumi_mocks.MockEngine):
        def Log(self, request):  # noqa: N802
            result.logs.append(request.message)

    with _LOCK:
        runtime_settings.ROOT.set(None)
        runtime_settings.SETTINGS.rpc_manager.clear()
        runtime_settings.SETTINGS.outputs.clear()
    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=Recorder(mocks))
    config = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in settings.items()}
    config.update({f"{PROJECT}:{k}": v for k, v in secrets.items()})
    config.update(other_config or {})
    pulumi.runtime.set_all_config(config, [f"{PROJECT}:{k}" for k in secrets])
    try:
        runpy.run_path(str(program or ROOT / "__main__.py"), run_name="__main__")
        _sync_await(wait_for_rpcs())
    except pulumi.RunError as err:
        result.error = str(err)
        return result
    root = runtime_settings.get_root_resource()
    for name, value in getattr(root, "outputs", {}).items():
        result.outputs[name] = _sync_await(pulumi.Output.from_input(value).future())
    return result


def missing_secrets(values: dict[str, Any], present: set[str]) -> set[str]:
    """Secrets the settings require that the stack file does not set (the CLI would refuse to run)."""
    from components.settings import SECRET_KEYS, SettingsError, load_settings, required_secrets
    try:
        settings = load_settings(values, set(SECRET_KEYS))
    except SettingsError:
        return set()  # the real run reports the settings errors
    return required_secrets(settings) - present


STAND_IN_DOMAIN = "kubeconfig-encrypted.invalid"


def stand_in_server(member: str) -> str:
    return f"https://{member}.{STAND_IN_DOMAIN}"


def fleet_stand_ins(stored: Any, fleet: Any) -> Optional[str]:
    """Offline, members' encrypted kubeconfigs (`--path fleetKubeconfigs.NAME`) cannot be read:
    each becomes a kubeconfig naming the member's context and a stand-in server, so the members'
    objects render; the hub's kubeconfig then shows the stand-in. None when the names are encrypted too."""
    if not isinstance(stored, dict) or set(stored) == {"secure"}:
        return None
    contexts = {m.get("name"): m.get("context") or "stand-in" for m in (fleet or {}).get("members", [])
                if isinstance(m, dict)}
    out = {}
    for name in stored:
        context = contexts.get(name, "stand-in")
        out[name] = json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": context,
                                "clusters": [{"name": name, "cluster": {"server": stand_in_server(name)}}],
                                "contexts": [{"name": context, "context": {"cluster": name, "user": name}}],
                                "users": [{"name": name, "user": {}}]})
    return json.dumps(out)


def run_stack(stack: str, preview: bool = False, secrets: Optional[dict[str, str]] = None,
              overrides: Optional[dict[str, Any]] = None, fill_missing_secrets: bool = False) -> Run:
    """Run with a stack file's settings.

    Secrets set there (encrypted) get the placeholder unless given. With
    fill_missing_secrets, required secrets the file lacks get it too, and the
    run says so in `filled` -- for offline review, never for a deploy.
    """
    values, secret_keys = stack_settings(stack)
    values.update(overrides or {})
    given = {k: SECRET_PLACEHOLDER for k in secret_keys}
    if "fleetKubeconfigs" in secret_keys:
        stand_ins = fleet_stand_ins(stack_file(stack)["config"][f"{PROJECT}:fleetKubeconfigs"], values.get("fleet"))
        if stand_ins is not None:
            given["fleetKubeconfigs"] = stand_ins
    given.update(secrets or {})
    filled = missing_secrets(values, set(given)) if fill_missing_secrets else set()
    given.update({k: SECRET_PLACEHOLDER for k in filled})
    result = run(values, given, preview=preview, stack=stack_name(stack))
    result.filled = sorted(filled)
    return result
