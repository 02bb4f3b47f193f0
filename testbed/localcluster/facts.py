"""The local cluster's fixed facts (cluster.env), as bash reads them: one file for both."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a file bash sources; comments and blank lines skipped."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


FACTS = env_file(HERE / "cluster.env")
POD_CIDR, SERVICE_CIDR, GATEWAY = FACTS["POD_CIDR"], FACTS["SERVICE_CIDR"], FACTS["GATEWAY"]
DNS_SERVICE_IP = FACTS["DNS_SERVICE_IP"]
BRIDGE, TABLE, CHAIN = FACTS["BRIDGE"], FACTS["TABLE"], FACTS["CHAIN"]
RESTRICTED_UID = int(FACTS["RESTRICTED_UID"])
EDGE_ADDRESS = FACTS["EDGE_ADDRESS"]  # the real node's edge (Traefik): HTTPS on its port 443


def port(base: int, name: str) -> int:
    """A port of a cluster at PORT_BASE `base`: port(16500, "API_PORT")."""
    return base + int(FACTS[f"{name}_OFFSET"])
