"""A small OTLP/HTTP trace receiver on loopback: what a collector would get from the servers.

It accepts `POST` of an `ExportTraceServiceRequest` (protobuf or JSON) on any path, as the OTLP/HTTP
exporters send it, and keeps each span flattened: its trace, its parent, its name, its service and its
attributes. Decoding uses `opentelemetry-proto`, the OpenTelemetry project's own message definitions.

As a program (a collector pod on the local cluster: tests/support/provided.py) it prints each span as
one JSON line:  python otlp.py --bind 0.0.0.0 --port 4318
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, Optional

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    service: str
    attributes: dict[str, Any]
    path: str  # the URL path the exporter posted to


@dataclass
class Received:
    spans: list[Span] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, predicate: Callable[[Span], bool], timeout: float = 30) -> list[Span]:
        """The spans matching `predicate`, once there is at least one (the exporters batch: seconds)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [s for s in self.spans if predicate(s)]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.2)


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def _decode(body: bytes, content_type: str, path: str) -> list[Span]:
    request = ExportTraceServiceRequest()
    if "json" in content_type:
        json_format.Parse(body, request)
    else:
        request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for s in scope_spans.spans:
                spans.append(Span(trace_id=s.trace_id.hex(), span_id=s.span_id.hex(), parent_id=s.parent_span_id.hex(),
                                  name=s.name, service=str(resource.get("service.name", "")),
                                  attributes={a.key: _value(a.value) for a in s.attributes}, path=path))
    return spans


@contextlib.contextmanager
def otlp_receiver(host: str = "127.0.0.1", port: int = 0,
                  on_spans: Optional[Callable[[list[Span]], None]] = None) -> Iterator[tuple[str, Received]]:
    """(base URL, what arrived); the receiver runs until the block ends."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            content_type = self.headers.get("Content-Type", "")
            try:
                spans = _decode(body, content_type, self.path)
            except Exception as err:  # a malformed export: answer as a collector would
                self.send_error(400, str(err)[:200])
                return
            with received.lock:
                received.paths.append(self.path)
                received.spans.extend(spans)
            if on_spans:
                on_spans(spans)
            answer = ExportTraceServiceResponse()
            data = (json_format.MessageToJson(answer).encode() if "json" in content_type
                    else answer.SerializeToString())
            self.send_response(200)
            self.send_header("Content-Type", "application/json" if "json" in content_type else "application/x-protobuf")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def trace_of(spans: list[Span], trace_id: str) -> list[Span]:
    return [s for s in spans if s.trace_id == trace_id]


def by_name(spans: list[Span], name: str) -> Optional[Span]:
    return next((s for s in spans if s.name == name), None)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="an OTLP/HTTP trace receiver printing each span as JSON")
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4318)
    args = parser.parse_args(argv)

    def emit(spans: list[Span]) -> None:
        for s in spans:
            print(json.dumps(dataclasses.asdict(s), default=str), flush=True)

    with otlp_receiver(args.bind, args.port, emit) as (url, _):
        print(f"receiving on {url}", file=sys.stderr, flush=True)
        threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
