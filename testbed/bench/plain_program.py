"""The comparison program for `make bench`: registers a recorded list of resources, no logic.

Same resource types, names, parents and inputs as the real program, read
from the JSON file in $BENCH_PLAIN_DATA, and the same order: every object after
the namespaces (the real program's `depends_on`; without it a create races the
namespace's). Only the settings model, validation and manifest building are
missing. Registration goes through the same registrar (components/registry.py),
so the difference is the program's own cost.
"""

import json
import os

import pulumi

from components.registry import register

components: dict[str, pulumi.ComponentResource] = {}
namespaces: list[pulumi.Resource] = []
for item in json.loads(open(os.environ["BENCH_PLAIN_DATA"]).read()):
    parent = components.get(item["parent"])
    if item["custom"]:
        is_namespace = item["manifest"]["kind"] == "Namespace"
        created = register(item["manifest"], pulumi.ResourceOptions(
            parent=parent, depends_on=[] if is_namespace else list(namespaces)))
        if is_namespace:
            namespaces.append(created)
    else:
        opts = pulumi.ResourceOptions(parent=parent)
        components[item["urn_tail"]] = pulumi.ComponentResource(item["type"], item["name"], None, opts)
