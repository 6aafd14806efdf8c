#!/usr/bin/env python3
"""An OTLP/HTTP trace receiver for tests: accepts POST /v1/traces (protobuf or JSON
ExportTraceServiceRequest, as opentelemetry-proto defines it) and appends one JSON line per
span to SPANS_FILE: trace_id, span_id, parent_span_id, name, kind, the exporting
process's service.name, start and end (Unix nanoseconds) and the span's attributes. Listens on a free loopback port, which it writes to PORT_FILE once
it does.

Usage: otlp_receiver.py PORT_FILE SPANS_FILE
"""
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

lock = threading.Lock()


def value_of(value):
    """An OTLP AnyValue as JSON: a string, number or bool, or a list of them."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [value_of(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        request = trace_service_pb2.ExportTraceServiceRequest()
        if self.path != "/v1/traces":
            self.send_error(404)
            return
        if "json" in self.headers.get("content-type", ""):
            json_format.Parse(body, request)
        else:
            request.ParseFromString(body)
        lines = []
        for resource_spans in request.resource_spans:
            service = next(
                (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    lines.append(json.dumps({
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "name": span.name,
                        "kind": span.kind,
                        "service": service,
                        "start": span.start_time_unix_nano,
                        "end": span.end_time_unix_nano,
                        "attributes": {a.key: value_of(a.value) for a in span.attributes},
                    }))
        with lock, open(sys.argv[2], "a") as spans:
            for line in lines:
                spans.write(line + "\n")
        answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def main():
    # A child inherits its parent's blocked and ignored signals, and the Swift test that
    # starts this runs with SIGTERM blocked: stop when told to.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    temporary = sys.argv[1] + ".tmp"
    with open(temporary, "w") as port_file:
        port_file.write(str(server.server_address[1]))
    os.rename(temporary, sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
