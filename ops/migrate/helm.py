#!/usr/bin/env python3
"""Take over the old Helm releases in place: `make adopt STACK=prod` (a dry run; ARGS=--yes does it).

    python -m ops.migrate.helm plan    --stack prod   # what would be taken over, what retired; changes nothing
    python -m ops.migrate.helm prepare --stack prod --yes
    pulumi up --stack prod                         # (make adopt runs it) upserts every object in place
    python -m ops.migrate.helm finish  --stack prod --yes
    pulumi refresh --stack prod                    # (make adopt runs it) the state learns what finish dropped

Why this way: `pulumi up` with server-side apply upserts objects that already
exist and, forced (pulumi.com/patchForce), takes over every field it sets, so
the Deployments keep their UIDs and roll at most once, never recreated. What
apply cannot do by itself is drop fields only the old charts set (a stale env
var, Helm's labels and annotations): `prepare` hands Helm's field ownership to
a manager of ours, `helm-adopted`, as an apply; after `pulumi up`, `finish`
applies nothing as that manager and the API server removes exactly the fields
nobody else owns. Objects of the releases this stack does not render (the old
cluster-wide RBAC, an MCP Route) are deleted by `finish`, after being listed
by `plan`. Helm forgets the releases: their release Secrets are deleted, not
the objects, so a later `helm uninstall` cannot delete what Pulumi now owns.

A Deployment's pod selector can never change: `plan` refuses, before touching
anything, when the stack would render another selector than the live one, and
names the setting (migration.helmReleases) that keeps it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional


from ops import offline
from components.settings import StackSettings, load_settings
from ops.recovery.orphans import CLUSTER_SCOPED, NAMESPACED  # the kinds the charts and the program create

MANAGER = "helm-adopted"
RELEASE_NAME = "meta.helm.sh/release-name"
RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"


class MigrationError(Exception):
    pass


Key = tuple[str, Optional[str], str]  # kind, namespace, name


def key(obj: dict[str, Any]) -> Key:
    meta = obj["metadata"]
    return obj["kind"], meta.get("namespace"), meta["name"]


def show(k: Key) -> str:
    kind, namespace, name = k
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


# ----------------------------------------------------------------- the cluster

def kubectl(*args: str, stdin: Optional[str] = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise MigrationError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
    return result


def live_objects(namespace: str, releases: Optional[set[str]] = None) -> list[dict[str, Any]]:
    """Every object Helm marked as of a release in the namespace (of `releases` only, when given);
    kinds the cluster lacks are skipped."""
    found = []
    for kinds, scope in ((NAMESPACED, ["-n", namespace]), (CLUSTER_SCOPED, [])):
        for kind in kinds:
            result = kubectl("get", kind, *scope, "-o", "json", "--show-managed-fields", check=False)
            if result.returncode != 0:
                continue  # e.g. routes on plain Kubernetes
            for obj in json.loads(result.stdout)["items"]:
                annotations = obj["metadata"].get("annotations") or {}
                release = annotations.get(RELEASE_NAME)
                if release and annotations.get(RELEASE_NAMESPACE) == namespace and (
                        releases is None or release in releases):
                    found.append(obj)
    return found


def release_records(namespace: str, release: str) -> list[str]:
    """Helm's own record of a release: Secrets `sh.helm.release.v1.<release>.vN`."""
    result = kubectl("get", "secrets", "-n", namespace, "-l", f"owner=helm,name={release}", "-o", "name")
    return result.stdout.split()


# ------------------------------------------------------------------------ plan

def stack_settings(stack: str) -> tuple[StackSettings, list[dict[str, Any]]]:
    run = offline.run_stack(stack, fill_missing_secrets=True)
    if run.error:
        raise MigrationError(run.error)
    values, _ = offline.stack_settings(stack)
    return load_settings(values, {"postgresPassword", "inferenceApiKey"}), run.manifests(masked=True)


SETTING = {"kubernetes-mcp-server": "mcpServer", "llama-stack": "llamaStack"}


def plan(settings: StackSettings, rendered: list[dict[str, Any]], helm: list[dict[str, Any]]
         ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(taken over, retired) among `helm`, every Helm object of the namespace.

    Only the releases named in migration.helmReleases are in scope: a namespace may hold
    other releases (a database) that must stay Helm's. Raises MigrationError when the stack
    would take over an object of another release, or a Deployment could not be updated in place.
    """
    releases = releases_of(settings, helm)
    wanted = {key(m): m for m in rendered}
    live = [o for o in helm if release(o) in releases]
    adopted = [o for o in live if key(o) in wanted]
    retired = [o for o in live if key(o) not in wanted]
    problems = []
    for obj in helm:
        if release(obj) not in releases and key(obj) in wanted:
            problems.append(f"{show(key(obj))} belongs to Helm release {release(obj)}, which "
                            f"migration.helmReleases does not name, and this stack renders it: name the release "
                            f"(migration.helmReleases.{SETTING.get(key(obj)[2], 'mcpServer')}: {release(obj)}) "
                            "or move it out of the way")
    for obj in adopted:
        if obj["kind"] != "Deployment":
            continue
        have = obj["spec"]["selector"].get("matchLabels", {})
        want = wanted[key(obj)]["spec"]["selector"]["matchLabels"]
        if have != want:
            setting = SETTING.get(obj["metadata"]["name"], "mcpServer")
            problems.append(f"{show(key(obj))} selects pods by {have}, the stack would by {want}: a selector "
                            f"never changes, so `pulumi up` would fail. Set migration.helmReleases.{setting}: "
                            f"{release(obj)} in the stack file to keep it")
    if problems:
        raise MigrationError("\n".join(problems))
    return adopted, retired


def release(obj: dict[str, Any]) -> str:
    return (obj["metadata"].get("annotations") or {}).get(RELEASE_NAME, "")


def releases_of(settings: StackSettings, helm: Optional[list[dict[str, Any]]] = None) -> set[str]:
    names = {settings.migration.helm_releases.mcp_server, settings.migration.helm_releases.llama_stack} - {""}
    if not names:
        found = sorted({release(o) for o in helm or []})
        raise MigrationError("no Helm release named: set migration.helmReleases.mcpServer and .llamaStack in the "
                             "stack file to the old releases' names"
                             + (f" (releases in namespace {settings.namespace.name}: {', '.join(found)})"
                                if found else ""))
    return names


# --------------------------------------------------------------------- prepare

def ownership_patch(obj: dict[str, Any], rendered: dict[str, Any]) -> list[dict[str, Any]]:
    """JSON patch handing Helm's field ownership to MANAGER as an apply."""
    patch = []
    for i, entry in enumerate(obj["metadata"].get("managedFields") or []):
        if entry.get("manager") != "helm" or entry.get("subresource"):
            continue
        fields = json.loads(json.dumps(entry.get("fieldsV1", {})))
        if obj["kind"] == "Deployment" and "replicas" not in rendered.get("spec", {}):
            # The HPA owns the replica count now: dropping it would reset it to 1 for a moment.
            fields.get("f:spec", {}).pop("f:replicas", None)
        patch += [{"op": "test", "path": f"/metadata/managedFields/{i}/manager", "value": "helm"},
                  {"op": "replace", "path": f"/metadata/managedFields/{i}/manager", "value": MANAGER},
                  {"op": "replace", "path": f"/metadata/managedFields/{i}/operation", "value": "Apply"},
                  {"op": "replace", "path": f"/metadata/managedFields/{i}/fieldsV1", "value": fields}]
    return patch


def resource_args(obj: dict[str, Any]) -> list[str]:
    kind, namespace, name = key(obj)
    api = obj["apiVersion"]
    group = api.split("/")[0] if "/" in api else ""
    resource = f"{kind.lower()}.{group}" if group else kind.lower()
    return [resource, name, *(["-n", namespace] if namespace else [])]


def prepare(settings: StackSettings, rendered: list[dict[str, Any]], adopted: list[dict[str, Any]]) -> None:
    """Hand Helm's fields to our manager. Idempotent: a re-run after an interruption does the same again.
    Helm's release records stay until `finish`, so until then `helm rollback` still works."""
    wanted = {key(m): m for m in rendered}
    for obj in adopted:
        patch = ownership_patch(obj, wanted[key(obj)])
        if patch:
            kubectl("patch", *resource_args(obj), "--type=json", "-p", json.dumps(patch))
            print(f"handed Helm's fields of {show(key(obj))} to {MANAGER}")


# ---------------------------------------------------------------------- finish

def export_records(namespace: str, releases: set[str], directory: Path) -> Optional[Path]:
    """Helm's release records, as objects `kubectl apply -f` restores; None when there are none (a re-run)."""
    records = []
    for release in sorted(releases):
        for name in release_records(namespace, release):
            obj = json.loads(kubectl("get", name, "-n", namespace, "-o", "json").stdout)
            meta = obj["metadata"]
            obj["metadata"] = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta}
            records.append(obj)
    if not records:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"helm-releases-{namespace}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": records}, indent=2))
    path.chmod(0o600)  # a release record holds the chart's values, secrets included
    return path


def finish(settings: StackSettings, releases: set[str], backup_dir: Path) -> None:
    namespace = settings.namespace.name
    saved = export_records(namespace, releases, backup_dir)
    if saved:
        for record in json.loads(saved.read_text())["items"]:
            kubectl("delete", "secret", record["metadata"]["name"], "-n", namespace)
            print(f"helm forgets release {record['metadata']['labels'].get('name')}: deleted "
                  f"{record['metadata']['name']} (only the record; the objects stay)")
        print(f"Helm's release records are saved in {saved}: `kubectl apply -f {saved}` restores them "
              f"(then `helm upgrade --take-ownership` takes the objects back)")
    for kinds, scope in ((NAMESPACED, ["-n", namespace]), (CLUSTER_SCOPED, [])):
        for kind in kinds:
            result = kubectl("get", kind, *scope, "-o", "json", "--show-managed-fields", check=False)
            if result.returncode != 0:
                continue
            for obj in json.loads(result.stdout)["items"]:
                if any(e.get("manager") == MANAGER for e in obj["metadata"].get("managedFields") or []):
                    empty = {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                             "metadata": {k: v for k, v in obj["metadata"].items() if k in ("name", "namespace")}}
                    kubectl("apply", "--server-side", f"--field-manager={MANAGER}", "-f", "-",
                            stdin=json.dumps(empty))
                    print(f"{show(key(obj))}: dropped the fields only the old chart set")
    for obj in live_objects(namespace, releases):
        kubectl("delete", *resource_args(obj), "--wait=false")
        print(f"retired {show(key(obj))} (the stack does not render it)")


# ------------------------------------------------------------------------ main

def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("plan", "prepare", "finish"))
    parser.add_argument("--stack", default="dev", help="stack name (dev) or path of a stack file")
    parser.add_argument("--yes", action="store_true", help="prepare and finish change the cluster only with it")
    parser.add_argument("--backup-dir", default="migration-backup",
                        help="where finish saves Helm's release records before deleting them")
    args = parser.parse_args(argv)
    try:
        settings, rendered = stack_settings(args.stack)
        if args.step == "finish":
            if not args.yes:
                parser.error("finish changes the cluster: pass --yes")
            finish(settings, releases_of(settings), Path(args.backup_dir))
            return 0
        helm = live_objects(settings.namespace.name)
        adopted, retired = plan(settings, rendered, helm)
        if not adopted + retired:
            raise MigrationError(f"no object of release(s) {', '.join(sorted(releases_of(settings)))} in namespace "
                                 f"{settings.namespace.name} (already adopted, or another namespace?)")
        if args.step == "plan":
            for obj in adopted:
                print(f"take over in place: {show(key(obj))} (uid {obj['metadata']['uid']})")
            for obj in retired:
                print(f"retire (not rendered by this stack): {show(key(obj))}")
            print(f"{len(adopted)} object(s) to take over, {len(retired)} to retire; nothing changed")
            return 0
        if not args.yes:
            parser.error("prepare changes the cluster: pass --yes")
        prepare(settings, rendered, adopted)
        return 0
    except (MigrationError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
