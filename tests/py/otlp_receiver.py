"""A minimal OpenTelemetry collector for the tests: takes OTLP/HTTP JSON on POST /v1/traces,
decodes it with the official protobuf definitions (opentelemetry-proto; a body they refuse is
answered 400 and recorded as an error), and appends each span as one JSON line to OUTFILE
(ids in hex, kind and status by name, attributes as a plain object).

usage: otlp_receiver.py PORT OUTFILE
"""
import base64
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

PORT, OUT = int(sys.argv[1]), sys.argv[2]
ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def hex_ids_to_base64(request):
    """OTLP/JSON writes ids in hex; protobuf's JSON mapping wants base64."""
    for rs in request.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                for f in ID_FIELDS:
                    if f in span:
                        span[f] = base64.b64encode(bytes.fromhex(span[f])).decode()


def value_of(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def record(line):
    with open(OUT, "a") as f:
        f.write(json.dumps(line) + "\n")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            if self.path != "/v1/traces":
                raise ValueError(f"POST to {self.path}, not /v1/traces")
            if self.headers.get("content-type") != "application/json":
                raise ValueError(f"content-type {self.headers.get('content-type')}")
            raw = json.loads(body)
            hex_ids_to_base64(raw)
            request = json_format.ParseDict(raw, ExportTraceServiceRequest())
        except Exception as e:  # noqa: BLE001 - anything refused is reported to the test
            record({"error": f"{type(e).__name__}: {e}"})
            self.send_response(400)
            self.end_headers()
            return
        for rs in request.resource_spans:
            resource = {a.key: value_of(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    record({
                        "resource": resource,
                        "scope": ss.scope.name,
                        "traceId": s.trace_id.hex(),
                        "spanId": s.span_id.hex(),
                        "parentSpanId": s.parent_span_id.hex(),
                        "name": s.name,
                        "kind": Span.SpanKind.Name(s.kind),
                        "start": s.start_time_unix_nano,
                        "end": s.end_time_unix_nano,
                        "attributes": {a.key: value_of(a.value) for a in s.attributes},
                        "status": Status.StatusCode.Name(s.status.code),
                        "statusMessage": s.status.message,
                    })
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")


HTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
