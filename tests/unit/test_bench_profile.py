"""`make bench-profile`'s reading of Pulumi's traces, and `make bench-deploy`'s ratios, without a cluster."""

from __future__ import annotations

import json

import pytest

from testbed.bench import deploy as bench_deploy
from testbed.bench import profile


def _span(name, start, end, **attributes):
    return {"name": name, "startTimeUnixNano": str(int(start * 1e9)), "endTimeUnixNano": str(int(end * 1e9)),
            "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()]}


def _export(service, *spans):
    """One line of the CLI's file exporter: OTLP JSON, one export per line."""
    return json.dumps({"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": service}}]}, "scopeSpans": [{"spans": list(spans)}]}]})


def _pass(start):
    """A pass of 4 s from `start`: the program's first registration 1.5 s in, the provider started
    and configured after it, steps of 0.3 s (two overlapping calls and one apart)."""
    return [
        _span("pulumi-plan", start, start + 4),
        _span("run-program", start + 0.1, start + 3.5),
        _span("pulumirpc.ResourceMonitor/RegisterResource", start + 1.6, start + 3.0),
        _span("newPlugin", start + 1.7, start + 1.9, kind="resource"),
        _span("pulumirpc.ResourceProvider/Handshake", start + 1.9, start + 1.95),
        _span("pulumirpc.ResourceProvider/CheckConfig", start + 1.95, start + 2.0),
        _span("pulumirpc.ResourceProvider/Configure", start + 2.0, start + 2.4),
        _span("pulumirpc.ResourceProvider/Check", start + 2.4, start + 2.5),
        _span("pulumirpc.ResourceProvider/Diff", start + 2.45, start + 2.6),
        _span("pulumirpc.ResourceProvider/Create", start + 3.0, start + 3.1),
    ]


@pytest.fixture
def trace(tmp_path):
    path = tmp_path / "trace.json"
    cli = [_span("pulumi", 100.0, 110.0), _span("pulumirpc.LanguageRuntime/About", 100.1, 101.0),
           _span("diyBackend.getSnapshot", 101.0, 101.2), *_pass(101.2), *_pass(105.3),
           _span("gocloud.dev/blob.NewWriter", 109.4, 109.5), _span("gocloud.dev/blob.Copy", 109.45, 109.6),
           # a read before the last pass ended is not the state write
           _span("gocloud.dev/blob.NewRangeReader", 105.0, 105.2)]
    provider = [_span("/pulumirpc.ResourceProvider/Configure", 102.0, 102.3)]
    path.write_text("\n".join([_export("pulumi-cli", *cli), _export("pulumi-resource-provider", *provider)]) + "\n")
    return path


def test_each_phase_of_an_up_is_read_from_its_spans(trace):
    spans = profile.read_spans(trace)
    assert {s.service for s in spans} == {"pulumi-cli", "pulumi-resource-provider"}
    got = profile.phases(spans, wall=10.5)
    assert got["CLI start"] == pytest.approx(0.5)
    assert got["runtime metadata"] == pytest.approx(0.9)
    assert got["state read"] == pytest.approx(0.2)
    assert got["state write"] == pytest.approx(0.2)
    for label in ("preview", "update"):
        assert got[f"{label} program start"] == pytest.approx(1.5)
        assert got[f"{label} provider start"] == pytest.approx(0.3)
        assert got[f"{label} provider configure"] == pytest.approx(0.4)
        assert got[f"{label} steps"] == pytest.approx(0.3)  # 0.2 of two overlapping calls + 0.1
        assert got[f"{label} rest of the pass"] == pytest.approx(4 - 1.5 - 0.3 - 0.4 - 0.3)
    # Everything is accounted for once: the parts add up to the whole run.
    parts = sum(v for k, v in got.items() if k != "whole run")
    assert parts == pytest.approx(got["whole run"]) and got["whole run"] == 10.5
    assert got["the CLI otherwise"] == pytest.approx(10.5 - 0.5 - 0.9 - 0.2 - 0.2 - 8)


def test_the_union_of_overlapping_spans_counts_each_second_once():
    assert profile.covered([(0, 2), (1, 3), (5, 6)]) == 4
    assert profile.covered([]) == 0


def test_a_ratio_carries_the_lowest_and_highest_of_the_repetitions_pairwise():
    assert bench_deploy.ratio([10.0, 12.0, 30.0], [5.0, 4.0, 10.0]) == "2.40 [2.00-3.00]"
    assert bench_deploy.ratio([], [1.0]) == "-"
