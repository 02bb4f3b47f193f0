"""Deploys the Kubernetes MCP server and Llama Stack (or OGX), wired together, to OpenShift or Kubernetes."""

from components.program import main

main()
