"""The component package's plugin entry point (PulumiPlugin.yaml): serve LlamaStackMcp to the engine."""

from llamastack_mcp.provider import serve

serve()
