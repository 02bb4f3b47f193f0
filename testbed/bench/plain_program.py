"""The comparison program for `make bench`: registers a recorded list of resources, no logic.

Same resource types, names, parents and inputs as the real program, read
from the JSON file in $BENCH_PLAIN_DATA; only the settings model, validation
and manifest building are missing. Registration goes through the same typed
classes (components/registry.py), so the difference is the program's own cost.
"""

import json
import os

import pulumi

from components.registry import register

components: dict[str, pulumi.ComponentResource] = {}
for item in json.loads(open(os.environ["BENCH_PLAIN_DATA"]).read()):
    parent = components.get(item["parent"])
    opts = pulumi.ResourceOptions(parent=parent)
    if item["custom"]:
        register(item["manifest"], opts)
    else:
        components[item["urn_tail"]] = pulumi.ComponentResource(item["type"], item["name"], None, opts)
