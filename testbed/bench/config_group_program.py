"""The provider-side alternative `make bench-deploy` weighs: the same objects in one ConfigGroup.

`kubernetes:yaml/v2:ConfigGroup` is implemented in the provider (Go): the program sends the
whole list in one registration and the provider registers each object. Read from the objects
file in $BENCH_OBJECTS (what `make render` writes, one JSON document per object).
"""

import json
import os

import pulumi_kubernetes as k8s

text = open(os.environ["BENCH_OBJECTS"]).read()
k8s.yaml.v2.ConfigGroup("objects", objs=[json.loads(doc) for doc in text.split("\n---\n")])
