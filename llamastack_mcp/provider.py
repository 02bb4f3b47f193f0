"""The component package's provider: serves `LlamaStackMcp` to any Pulumi language.

Pulumi's component host infers the package schema from the component's annotations
(components/llamastack_mcp.py, components/component_args.py). One thing it cannot say is that an
input is a secret; the schema here marks the three secret settings so that every generated SDK
wraps them as secrets before they leave the consumer's program.
"""

import json
import sys
from typing import Optional

from pulumi.provider import main
from pulumi.provider.experimental import host
from pulumi.provider.experimental.component import ComponentProvider

from .components.llamastack_mcp import TYPE, LlamaStackMcp
from .components.settings import SECRET_KEYS

from .version import VERSION

PACKAGE = TYPE.split(":")[0]


class LlamaStackMcpProvider(ComponentProvider):
    def __init__(self, version: str = VERSION) -> None:
        super().__init__([LlamaStackMcp], PACKAGE, None, version)
        self.schema = json.dumps(package_schema(json.loads(self.schema)))


def package_schema(schema: dict) -> dict:
    """The inferred schema, with the secret inputs marked and the package described."""
    resource = schema["resources"][TYPE]
    for key in SECRET_KEYS:
        resource["inputProperties"][key]["secret"] = True
    schema.update({
        "displayName": "Llama Stack + Kubernetes MCP server",
        "description": "The Kubernetes MCP server and Llama Stack (OGX), wired together, on OpenShift or Kubernetes",
        "keywords": ["kubernetes", "openshift", "mcp", "llama-stack", "category/utility", "kind/component"],
        "license": "Apache-2.0",
    })
    return schema


def serve(args: Optional[list[str]] = None) -> None:
    """What `pulumi` runs (provider/__main__.py): the plugin's arguments are the engine's address and flags."""
    host.is_hosting = True  # errors then name settings as the schema does
    main(LlamaStackMcpProvider(), sys.argv[1:] if args is None else args)
