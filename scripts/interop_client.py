#!/usr/bin/env python3
"""grpc's interop test cases (interop-test-descriptions.md) with Python's grpcio client
against a server of grpc.testing.TestService (the suite's `interop-server`).

    interop_client.py HOST:PORT [--cases a,b,...] [--ca FILE [--cert FILE --key FILE]]

Prints one JSON line per case ({"case", "ok", "detail"}) and exits 1 when any failed.
"""
import argparse
import json
import os
import queue
import sys
import tempfile
import threading

import grpc
from grpc_tools import protoc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_stubs():
    """Compiles Protos/grpc/testing with grpcio-tools into a temporary package. The files move
    to `interop_protos/` first: a Python package named grpc.testing would clash with grpcio's
    own `grpc` package. Their proto package (and so every method's name) stays grpc.testing."""
    out = tempfile.mkdtemp(prefix="interop-")
    source = os.path.join(out, "src", "interop_protos")
    os.makedirs(source)
    for name in ("empty", "messages", "test"):
        text = open(os.path.join(ROOT, "Protos", "grpc", "testing", f"{name}.proto")).read()
        open(os.path.join(source, f"{name}.proto"), "w").write(text.replace('"grpc/testing/', '"interop_protos/'))
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    protos = [f"interop_protos/{name}.proto" for name in ("empty", "messages", "test")]
    status = protoc.main(
        ["protoc", f"-I{out}/src", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}", *protos])
    if status != 0:
        sys.exit("interop: could not compile the test protos")
    sys.path.insert(0, out)
    from interop_protos import empty_pb2, messages_pb2, test_pb2_grpc  # noqa: E402 (generated above)
    return empty_pb2, messages_pb2, test_pb2_grpc


empty_pb2, messages_pb2, test_pb2_grpc = None, None, None


class Failed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Failed(message)


def payload(size):
    return messages_pb2.Payload(body=b"\0" * size)


def expect_status(error, code, message=None):
    expect(error.code() == code, f"expected {code.name}, got {error.code().name}: {error.details()!r}")
    if message is not None:
        expect(error.details() == message, f"expected message {message!r}, got {error.details()!r}")


def empty_unary(stub, channel):
    reply = stub.EmptyCall(empty_pb2.Empty(), timeout=10)
    expect(reply == empty_pb2.Empty(), "EmptyCall must answer an empty message")


def large_unary(stub, channel):
    reply = stub.UnaryCall(messages_pb2.SimpleRequest(response_size=314159, payload=payload(271828)), timeout=10)
    expect(len(reply.payload.body) == 314159, f"payload of {len(reply.payload.body)} bytes")


def client_streaming(stub, channel):
    sizes = [27182, 8, 1828, 45904]
    reply = stub.StreamingInputCall(
        (messages_pb2.StreamingInputCallRequest(payload=payload(size)) for size in sizes), timeout=10)
    expect(reply.aggregated_payload_size == 74922, f"aggregated {reply.aggregated_payload_size}")


def server_streaming(stub, channel):
    sizes = [31415, 9, 2653, 58979]
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=size) for size in sizes])
    got = [len(reply.payload.body) for reply in stub.StreamingOutputCall(request, timeout=10)]
    expect(got == sizes, f"response sizes {got}")


class Pipe:
    """A request iterator the test feeds one message at a time."""

    def __init__(self):
        self.items = queue.Queue()

    def send(self, item):
        self.items.put(item)

    def close(self):
        self.items.put(None)

    def __iter__(self):
        return self

    def __next__(self):
        item = self.items.get()
        if item is None:
            raise StopIteration
        return item


def ping_pong(stub, channel):
    requests, responses = [27182, 8, 1828, 45904], [31415, 9, 2653, 58979]
    pipe = Pipe()
    call = stub.FullDuplexCall(pipe, timeout=10)
    for request_size, response_size in zip(requests, responses):
        pipe.send(messages_pb2.StreamingOutputCallRequest(
            response_parameters=[messages_pb2.ResponseParameters(size=response_size)], payload=payload(request_size)))
        reply = next(call)
        expect(len(reply.payload.body) == response_size, f"response of {len(reply.payload.body)} bytes")
    pipe.close()
    expect(next(call, None) is None, "no response after the last request")


def empty_stream(stub, channel):
    got = list(stub.FullDuplexCall(iter([]), timeout=10))
    expect(got == [], f"{len(got)} responses to no requests")


def custom_metadata(stub, channel):
    metadata = [("x-grpc-test-echo-initial", "test_initial_metadata_value"),
                ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab")]

    def check(initial, trailing):
        expect(("x-grpc-test-echo-initial", "test_initial_metadata_value") in list(initial),
               f"initial metadata {list(initial)}")
        expect(("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab") in list(trailing),
               f"trailing metadata {list(trailing)}")

    _, call = stub.UnaryCall.with_call(
        messages_pb2.SimpleRequest(response_size=314159, payload=payload(271828)), metadata=metadata, timeout=10)
    check(call.initial_metadata(), call.trailing_metadata())
    stream = stub.FullDuplexCall(iter([messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=314159)], payload=payload(271828))]),
        metadata=metadata, timeout=10)
    expect(len(list(stream)) == 1, "one response")
    check(stream.initial_metadata(), stream.trailing_metadata())


def status_code_and_message(stub, channel):
    status = messages_pb2.EchoStatus(code=2, message="test status message")
    try:
        stub.UnaryCall(messages_pb2.SimpleRequest(response_status=status), timeout=10)
        raise Failed("UnaryCall succeeded")
    except grpc.RpcError as error:
        expect_status(error, grpc.StatusCode.UNKNOWN, "test status message")
    try:
        list(stub.FullDuplexCall(iter([messages_pb2.StreamingOutputCallRequest(response_status=status)]), timeout=10))
        raise Failed("FullDuplexCall succeeded")
    except grpc.RpcError as error:
        expect_status(error, grpc.StatusCode.UNKNOWN, "test status message")


def special_status_message(stub, channel):
    text = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"
    try:
        stub.UnaryCall(messages_pb2.SimpleRequest(response_status=messages_pb2.EchoStatus(code=2, message=text)),
                       timeout=10)
        raise Failed("UnaryCall succeeded")
    except grpc.RpcError as error:
        expect_status(error, grpc.StatusCode.UNKNOWN, text)


def unimplemented_method(stub, channel):
    try:
        stub.UnimplementedCall(empty_pb2.Empty(), timeout=10)
        raise Failed("UnimplementedCall succeeded")
    except grpc.RpcError as error:
        expect_status(error, grpc.StatusCode.UNIMPLEMENTED)


def unimplemented_service(stub, channel):
    try:
        test_pb2_grpc.UnimplementedServiceStub(channel).UnimplementedCall(empty_pb2.Empty(), timeout=10)
        raise Failed("UnimplementedService succeeded")
    except grpc.RpcError as error:
        expect_status(error, grpc.StatusCode.UNIMPLEMENTED)


def cancel_after_begin(stub, channel):
    pipe = Pipe()
    future = stub.StreamingInputCall.future(pipe, timeout=10)
    future.cancel()
    pipe.close()
    expect(future.cancelled(), "the call was not cancelled")
    try:
        future.result()
        raise Failed("the cancelled call succeeded")
    except grpc.FutureCancelledError:
        pass
    except grpc.RpcError as error:
        expect_status(error, grpc.StatusCode.CANCELLED)


def cancel_after_first_response(stub, channel):
    pipe = Pipe()
    call = stub.FullDuplexCall(pipe, timeout=10)
    pipe.send(messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=31415)], payload=payload(27182)))
    reply = next(call)
    expect(len(reply.payload.body) == 31415, "first response")
    call.cancel()
    pipe.close()
    try:
        next(call)
        raise Failed("the call went on after cancel")
    except grpc.RpcError as error:
        expect_status(error, grpc.StatusCode.CANCELLED)


def timeout_on_sleeping_server(stub, channel):
    pipe = Pipe()
    call = stub.FullDuplexCall(pipe, timeout=0.001)
    pipe.send(messages_pb2.StreamingOutputCallRequest(payload=payload(27182)))
    try:
        next(call)
        raise Failed("a response arrived within 1 ms")
    except grpc.RpcError as error:
        expect_status(error, grpc.StatusCode.DEADLINE_EXCEEDED)
    finally:
        pipe.close()


CASES = [empty_unary, large_unary, client_streaming, server_streaming, ping_pong, empty_stream, custom_metadata,
         status_code_and_message, special_status_message, unimplemented_method, unimplemented_service,
         cancel_after_begin, cancel_after_first_response, timeout_on_sleeping_server]


def main():
    global empty_pb2, messages_pb2, test_pb2_grpc
    parser = argparse.ArgumentParser()
    parser.add_argument("address")
    parser.add_argument("--cases", default=",".join(case.__name__ for case in CASES))
    parser.add_argument("--ca")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    empty_pb2, messages_pb2, test_pb2_grpc = load_stubs()
    if args.ca:
        read = lambda path: open(path, "rb").read() if path else None
        credentials = grpc.ssl_channel_credentials(read(args.ca), read(args.key), read(args.cert))
        channel = grpc.secure_channel(args.address, credentials)
    else:
        channel = grpc.insecure_channel(args.address)
    stub = test_pb2_grpc.TestServiceStub(channel)
    chosen = {name for name in args.cases.split(",") if name}
    failed = False
    for case in CASES:
        if case.__name__ not in chosen:
            continue
        try:
            case(stub, channel)
            print(json.dumps({"case": case.__name__, "ok": True, "detail": ""}), flush=True)
        except (Failed, grpc.RpcError, StopIteration) as error:
            failed = True
            detail = f"{error.code().name}: {error.details()}" if isinstance(error, grpc.RpcError) else str(error)
            print(json.dumps({"case": case.__name__, "ok": False, "detail": detail}), flush=True)
    channel.close()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
