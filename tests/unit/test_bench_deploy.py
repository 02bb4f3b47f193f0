"""`make bench-deploy`'s set-up, without a cluster: the objects it measures and its refusal without one."""

from __future__ import annotations

import subprocess
import sys

from testbed.bench import deploy as bench_deploy


def test_the_floor_applies_exactly_the_programs_objects_namespace_first(tmp_path):
    manifests = bench_deploy.render(bench_deploy.settings(0), tmp_path / "objects.yaml")
    assert manifests[0]["kind"] == "Namespace"
    assert len(manifests) == len((tmp_path / "objects.yaml").read_text().split("\n---\n"))
    assert 18 <= len(manifests) <= 30, len(manifests)


def test_the_large_size_is_over_a_thousand_objects(tmp_path):
    namespaces = bench_deploy.SIZES["prod+1000ns"]
    manifests = bench_deploy.render(bench_deploy.settings(namespaces), tmp_path / "objects.yaml")
    bindings = [m for m in manifests if m["kind"] == "RoleBinding"]
    assert len(bindings) == namespaces == 1000 and len(manifests) > 1000


def test_the_peer_installs_the_same_objects_as_a_chart(tmp_path):
    manifests = bench_deploy.render(bench_deploy.settings(0), tmp_path / "objects.yaml")
    chart = bench_deploy.chart(tmp_path / "objects.yaml", tmp_path / "chart")
    assert (chart / "Chart.yaml").is_file()
    assert (chart / "files" / "objects.yaml").read_text() == (tmp_path / "objects.yaml").read_text()
    # Emitted verbatim: the alerts' own templates ({{ $labels.pod }}) must not reach Helm's engine.
    assert "{{ $labels" in (chart / "files" / "objects.yaml").read_text()
    assert list((chart / "templates").iterdir()) == [chart / "templates" / "objects.yaml"]
    assert (chart / "templates" / "objects.yaml").read_text().strip() == '{{ .Files.Get "files/objects.yaml" }}'
    assert len(manifests) > 15


def test_it_says_to_start_the_cluster_first(tmp_path):
    result = subprocess.run([sys.executable, "-m", "testbed.bench.deploy", "--repeat", "1"],
                            env={"CLUSTER_DIR": str(tmp_path), "PORT_BASE": "1", "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "run `make cluster` first" in result.stderr, result.stderr
