"""Stack settings: the one place where configuration is typed, defaulted and validated.

Everything a stack file may say is declared here, by concern:

- `fields`: the value types (names, quantities, images, URLs, labels);
- `kubernetes`: Kubernetes' own shapes (resources, autoscaling, affinity, tolerations, spread);
- `workload`: what both servers have (size, replicas, scheduling, exposure);
- `mcp_server`, `llama_stack`, `rbac`, `cluster`, `fleet`: each section of a stack file;
- `stack`: the whole stack file; `rules`: every cross-field rule, run after the fields;
- `loading`: raw config in, `StackSettings` or every problem at once out.

Nothing here imports Pulumi: it is tested and reused without it.
"""

from . import rules as _rules  # noqa: F401  (registers the cross-field rules)
from .cluster import (HelmReleases, MigrationSettings, MonitoringSettings, NamespaceSettings,
                      NetworkPolicySettings)
from .fields import image_tag
from .fleet import FleetMember, FleetSettings
from .kubernetes import Autoscaling, Resources
from .llama_stack import MAIN_CONNECTOR_ID, SUPPORTED_VERSIONS, LlamaStackSettings
from .loading import SettingsError, defaults, load_settings, parse_value, required_secrets
from .mcp_server import MCP_TOOLSETS, McpServerSettings
from .rbac import MemberRbac, PolicyRule, RbacGrant, RbacSettings, system_namespace
from .stack import PROJECT, PROVIDER_CONFIG, SECRET_DESCRIPTIONS, SECRET_KEYS, TOP_LEVEL_KEYS, StackSettings
from .workload import Exposure, WorkloadSettings

__all__ = [
    "Autoscaling", "Exposure", "FleetMember", "FleetSettings", "HelmReleases", "LlamaStackSettings",
    "MAIN_CONNECTOR_ID", "MCP_TOOLSETS", "McpServerSettings", "MemberRbac", "MigrationSettings",
    "MonitoringSettings", "NamespaceSettings", "NetworkPolicySettings", "PROJECT", "PROVIDER_CONFIG", "PolicyRule",
    "RbacGrant", "RbacSettings", "Resources", "SECRET_DESCRIPTIONS", "SECRET_KEYS", "SUPPORTED_VERSIONS", "SettingsError",
    "StackSettings", "TOP_LEVEL_KEYS", "WorkloadSettings", "defaults", "image_tag", "load_settings",
    "parse_value", "required_secrets", "system_namespace",
]
