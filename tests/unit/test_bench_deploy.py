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


def test_the_report_prints_every_ratio_and_the_programs_share(tmp_path, capsys):
    """The report the bench prints after its ~40 minutes of runs: made from synthetic figures here, so a slip in it
    (an import, a missing step) fails in seconds rather than after the measurements."""
    bench = bench_deploy.Bench.__new__(bench_deploy.Bench)
    bench.results, bench.repeat, bench.parallel, bench.workdir = {}, 2, 0, tmp_path
    (tmp_path / "prod").mkdir()  # made by the runs
    bench.results[("prod", "objects")] = {"count": [20.0]}
    for step in ("create", "no-op preview", "no-op up", "change", "teardown"):
        bench.results[("prod", step)] = {"ours": [4.0, 6.0], "helm": [2.0, 2.0], "floor": [1.0, 1.0],
                                         "plain": [4.0, 4.0]}
    for step in ("no-op up --skip-preview", "change --skip-preview"):
        bench.results[("prod", step)] = {"ours": [2.0, 2.0]}
    bench_deploy.report(bench, {"prod": 0})
    out = capsys.readouterr().out.splitlines()
    row = {line[13:37].strip(): line for line in out if line.startswith("prod ") and line[13:37].strip()}
    assert "2.50 [2.00-3.00]" in row["create"] and "1.25 [1.00-1.50]" in row["create"], row["create"]
    skip = row["no-op up --skip-preview"]
    assert "1.00 [1.00-1.00]" in skip and skip.rstrip().endswith("-"), "no plain figure stands in for a skipped preview"
    assert any("the Python program's own run" in line for line in out)
