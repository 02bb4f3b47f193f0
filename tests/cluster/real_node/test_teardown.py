"""Last on the real node's cluster: nothing of any scenario left, then `cluster down` leaves no process,
shim, bridge, rule, route or ipset, and every sysctl of testbed/localcluster/node/machine-sysctls as before.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from testbed.localcluster import model as model_endpoint
# The containment's bridge, nftables table (inet), nat chain and ranges, as node.sh sets them up.
from testbed.localcluster.facts import BRIDGE, CHAIN, TABLE
from support import leftovers
from support.real_node import REAL_CLUSTER_DIR, machine_sysctls


def test_after_every_scenario_and_down_nothing_is_left(real, sysctls_before):
    """Each scenario removed its own stacks; the scripted model goes, then the cluster."""
    model_endpoint.delete(str(real.kubeconfig))
    assert leftovers(real) == []
    real.down()
    shims = subprocess.run(["pgrep", "-f", f"containerd-shim-runc-v2 .*{REAL_CLUSTER_DIR}"], capture_output=True)
    assert shims.returncode == 1, "no container of the node outlives it"
    for process in ("kubelet", "kube-proxy", "coredns", "containerd"):
        pid_file = REAL_CLUSTER_DIR / "pids" / process
        assert not pid_file.exists(), process
    assert subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode != 0, "the bridge is gone"
    assert subprocess.run(["nft", "list", "table", "inet", TABLE], capture_output=True).returncode != 0, \
        "our containment table is gone"
    assert subprocess.run(["iptables", "-S", CHAIN], capture_output=True).returncode != 0, "our chain is gone"
    assert CHAIN not in subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True).stdout
    assert CHAIN not in subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    assert "KUBE-" not in subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout, \
        "kube-proxy's and the policy agent's rules go with their node"
    sets = subprocess.run(["ipset", "list", "-n"], capture_output=True, text=True, check=True).stdout.split()
    assert not [s for s in sets if s.startswith(("KUBE-", "kube-router"))], sets
    for process in ("kube-router", "metrics-server", "traefik"):
        assert not (REAL_CLUSTER_DIR / "pids" / process).exists(), process
    assert not Path("/run/llamastack-mcp-node").exists()
    assert machine_sysctls() == sysctls_before, "every sysctl the node changed is back as it was"
