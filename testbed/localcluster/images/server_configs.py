"""Write the server configs this program renders for one distribution, for the image build's `list-deps`.

    python -m testbed.localcluster.images.server_configs llama-stack|ogx OUT_DIR

The image then holds what the server itself lists for every config the stacks can render (each
inference provider, each storage backend), rather than the whole starter distribution, some of
whose packages (torch from its own index) cannot be fetched here.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from ops import offline
from components import llama_stack_config
from components.facts import derive
from components.settings import load_settings

PINS = dict(line.split("=", 1) for line in (Path(__file__).resolve().parents[2] / "e2e" / "servers.env")
            .read_text().splitlines() if line and not line.startswith("#"))
VERSIONS = {"llama-stack": PINS["PIN_LLAMA_STACK_VERSION"], "ogx": PINS["PIN_OGX_VERSION"]}
SECRETS = {"postgresPassword", "inferenceApiKey"}


def configs(distribution: str) -> dict[str, str]:
    out = {}
    for stack, provider, backend in itertools.product(("dev", "prod"), ("vllm", "ollama", "openai"),
                                                      ("sqlite", "postgres")):
        values, _ = offline.stack_settings(stack)
        llama = dict(values.get("llamaStack", {}))
        llama.update(distribution=distribution, version=VERSIONS[distribution], image="example.com/server:1",
                     replicas=1, autoscaling={"enabled": False},
                     inference={**llama.get("inference", {}), "provider": provider},
                     storage={"backend": backend, "postgres": {"host": "db.example.com"}})
        if distribution == "ogx":
            llama["tls"] = {"insecure": True}
        settings = load_settings({**values, "llamaStack": llama}, SECRETS)
        facts = derive(settings)
        out[f"{stack}-{provider}-{backend}.yaml"] = llama_stack_config.render_text(settings.llama_stack, facts.mcp.url)
    return out


def main() -> int:
    distribution, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for name, text in configs(distribution).items():
        (out / name).write_text(text)
        print(out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
