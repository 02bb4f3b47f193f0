"""The Kubernetes MCP server and Llama Stack (or OGX), wired together, as a Pulumi component.

    from llamastack_mcp import LlamaStackMcp

    LlamaStackMcp("agents", {"platform": "kubernetes", "namespace": {"name": "agents"},
                             "mcp_server": {"rbac": {"preset": "read-only"}}})

Every arg is a setting of the stack files (docs/settings.md), in snake_case; `LlamaStackMcpArgs` and
the types beside it describe them. The same component is served to every Pulumi language by
`provider/` (`pulumi package add`): docs/component.md.
"""

from .components.component_args import *  # noqa: F401,F403  (the args' TypedDicts)
from .components.component_args import LlamaStackMcpArgs
from .components.llamastack_mcp import LlamaStackMcp

from .version import VERSION

__all__ = ["LlamaStackMcp", "LlamaStackMcpArgs", "VERSION"]
