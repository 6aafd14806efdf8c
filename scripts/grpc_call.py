#!/usr/bin/env python3
"""Calls one unary RPC of the suite with a JSON request and prints the JSON reply.

    scripts/grpc-call ADDRESS SERVICE/METHOD [JSON] [-H 'key: value' ...]

Compiles Protos/ with grpcio-tools on the fly, so any RPC of any service can be called.
Errors print the status code, message and decoded google.rpc details, and exit 1.
"""
import argparse
import importlib
import importlib.util
import json
import os
import sys
import tempfile

import grpc
from google.protobuf import json_format, descriptor_pool, message_factory
from grpc_tools import protoc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTOS = os.path.join(ROOT, "Protos")


def load_protos():
    """Compiles every proto into a temporary package and imports it."""
    out = tempfile.mkdtemp(prefix="guance-protos-")
    files = []
    for base, _, names in os.walk(PROTOS):
        files += [os.path.relpath(os.path.join(base, n), PROTOS) for n in names if n.endswith(".proto")]
    # grpc's interop test service is no service of the suite, and its generated code imports
    # `grpc.testing`, which grpcio's own package shadows (scripts/interop_client.py has it).
    files = [f for f in files if not f.startswith("grpc/testing/")]
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", f"-I{PROTOS}", f"-I{include}", f"--python_out={out}"] + sorted(files)
    if protoc.main(args) != 0:
        sys.exit("cannot compile Protos/")
    # Loaded by path: the package "grpc" of grpc.health.v1 would shadow grpcio itself.
    for f in files:
        path = os.path.join(out, f[: -len(".proto")] + "_pb2.py")
        name = "guance_suite_" + f[: -len(".proto")].replace("/", "_") + "_pb2"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    from google.rpc import error_details_pb2, status_pb2  # noqa: F401  (registers the types)


def unary(channel, method):
    """A callable for the unary RPC `package.Service/Method` on `channel` (protos loaded), and
    its request class."""
    service_name, method_name = method.rsplit("/", 1)
    described = descriptor_pool.Default().FindServiceByName(service_name).FindMethodByName(method_name)
    request_class = message_factory.GetMessageClass(described.input_type)
    reply_class = message_factory.GetMessageClass(described.output_type)
    stub = channel.unary_unary(
        f"/{service_name}/{method_name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=reply_class.FromString,
    )
    return stub, request_class


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("address", help="host:port, e.g. 127.0.0.1:7101")
    parser.add_argument("method", help="package.Service/Method")
    parser.add_argument("request", nargs="?", default="{}", help="the request as JSON")
    parser.add_argument("-H", "--header", action="append", default=[], help="metadata 'key: value'")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()

    load_protos()
    metadata = []
    for header in args.header:
        key, _, value = header.partition(":")
        metadata.append((key.strip().lower(), value.strip()))

    with grpc.insecure_channel(args.address) as channel:
        call, request_class = unary(channel, args.method)
        request = json_format.Parse(args.request, request_class())
        try:
            reply = call(request, metadata=metadata, timeout=args.timeout)
        except grpc.RpcError as error:
            print(f"{error.code().name}: {error.details()}", file=sys.stderr)
            for key, value in error.trailing_metadata() or ():
                if key == "grpc-status-details-bin":
                    from google.rpc import status_pb2

                    status = status_pb2.Status.FromString(value)
                    for detail in status.details:
                        print(json.dumps(json_format.MessageToDict(detail), indent=2), file=sys.stderr)
            sys.exit(1)
    print(json.dumps(json_format.MessageToDict(reply, preserving_proto_field_name=True), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
