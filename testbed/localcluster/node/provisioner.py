"""The real node's volume provisioner: a directory per claim, writable by the pod's (arbitrary) UID.

The controller-manager's built-in hostPath provisioner makes each volume `0750 root:root` and a
hostPath volume ignores `fsGroup`, so a pod running as OpenShift's arbitrary UID (the Llama Stack
image names no USER) cannot write its own volume. Real storage drivers honour fsGroup; this one,
like Rancher's local-path provisioner, makes the directory world-writable instead.

    python -m testbed.localcluster.node.provisioner KUBECONFIG VOLUMES_DIR   # runs until killed

Every second it binds each pending claim of the StorageClass `standard` to a new hostPath
PersistentVolume, and removes each released volume with its directory.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PROVISIONER = "llamastack-mcp.local/hostpath"
STORAGE_CLASS = "standard"
OWNED = "llamastack-mcp.local/provisioned-by"


def kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], input=stdin, capture_output=True,
                          text=True, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip())
    return proc.stdout


def volume_for(claim: dict[str, Any], path: Path) -> dict[str, Any]:
    meta, spec = claim["metadata"], claim["spec"]
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": f"pvc-{meta['uid']}", "annotations": {OWNED: PROVISIONER,
                                                                    "pv.kubernetes.io/provisioned-by": PROVISIONER}},
        "spec": {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": STORAGE_CLASS,
            "hostPath": {"path": str(path), "type": "Directory"},
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": meta["namespace"],
                         "name": meta["name"], "uid": meta["uid"]},
        },
    }


def reconcile(kubeconfig: str, volumes: Path) -> None:
    claims = json.loads(kubectl(kubeconfig, "get", "pvc", "-A", "-o", "json"))["items"]
    for claim in claims:
        if (claim["spec"].get("storageClassName") != STORAGE_CLASS or claim["spec"].get("volumeName")
                or claim.get("status", {}).get("phase") != "Pending"):
            continue
        path = volumes / f"pvc-{claim['metadata']['uid']}"
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o1777)
        kubectl(kubeconfig, "apply", "--server-side", "--field-manager", "local-provisioner", "-f", "-",
                stdin=json.dumps(volume_for(claim, path)))
    for pv in json.loads(kubectl(kubeconfig, "get", "pv", "-o", "json"))["items"]:
        if (pv["metadata"].get("annotations") or {}).get(OWNED) != PROVISIONER:
            continue
        if pv.get("status", {}).get("phase") in ("Released", "Failed"):
            shutil.rmtree(pv["spec"]["hostPath"]["path"], ignore_errors=True)
            kubectl(kubeconfig, "delete", "pv", pv["metadata"]["name"], "--wait=false")


def main() -> int:
    kubeconfig, volumes = sys.argv[1], Path(sys.argv[2])
    volumes.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            reconcile(kubeconfig, volumes)
        except (RuntimeError, subprocess.TimeoutExpired, KeyError, ValueError) as err:
            print(f"provisioner: {err}", file=sys.stderr, flush=True)
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
