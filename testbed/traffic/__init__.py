"""Traffic on the local cluster's real node: what only running pods can show.

- `load`: a bounded load of real MCP tool calls (count and time both capped), every outcome kept.
- `probes`: can a pod open a connection to another pod: probe pods and the verdicts they give.
- `prometheus`: the real Prometheus (Debian's package) with scrape jobs made from the rendered
  ServiceMonitor the way the Prometheus Operator makes them, and the rendered PrometheusRule.
- `resources`: what the pods use against their limits (metrics API, cgroups, restarts).

Everything here talks only to loopback and the node's own ranges (routed to its bridge).
"""
