"""Raw HTTP/2 probes of the suite's gRPC transport, for what a gRPC client cannot do: a request
that never finishes, a connection that never finishes its handshake. Prints one JSON object.

  h2_probe.py PORT stalled-request [--grpc-timeout 1S]
  h2_probe.py PORT large-metadata
  h2_probe.py PORT no-handshake
"""
import argparse
import json
import socket
import time

import h2.config
import h2.connection
import h2.events

PATIENCE = 60


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(PATIENCE)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    return sock, conn


def check_headers(port, extra=()):
    """A Health/Check request's headers, with `extra` metadata."""
    return [(":method", "POST"), (":scheme", "http"), (":path", "/grpc.health.v1.Health/Check"),
            (":authority", f"127.0.0.1:{port}"), ("content-type", "application/grpc"), ("te", "trailers")] + list(extra)


def answer(sock, conn, stream_id, until_reset):
    """What the server answers on `stream_id`: its grpc-status, whether the stream ended and was reset."""
    sock.sendall(conn.data_to_send())
    started = time.monotonic()
    result = {"grpc_status": None, "ended": False, "reset": False, "closed": False}
    try:
        # A refusal ends the stream (then resets it if the request was unfinished); a reset alone is an answer too.
        while not ((result["ended"] and result["reset"]) if until_reset else (result["ended"] or result["reset"])):
            data = sock.recv(65535)
            if not data:
                result["closed"] = True
                break
            for event in conn.receive_data(data):
                if getattr(event, "stream_id", stream_id) != stream_id:
                    continue
                if isinstance(event, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                    for name, value in event.headers:
                        if name == "grpc-status":
                            result["grpc_status"] = int(value)
                        elif name == "grpc-message":
                            result["grpc_message"] = value
                if isinstance(event, h2.events.StreamEnded):
                    result["ended"] = True
                elif isinstance(event, h2.events.StreamReset):
                    result["reset"] = True
                    result["reset_code"] = int(event.error_code)
            sock.sendall(conn.data_to_send())
    except socket.timeout:
        result["timed_out"] = True
    result["seconds"] = time.monotonic() - started
    return result


def stalled_request(port, grpc_timeout):
    """HEADERS of a unary RPC and 3 bytes of its message, then nothing: what the server answers."""
    sock, conn = connect(port)
    conn.send_headers(1, check_headers(port, [("grpc-timeout", grpc_timeout)] if grpc_timeout else []))
    conn.send_data(1, b"\x00\x00\x00")
    print(json.dumps(answer(sock, conn, 1, until_reset=True)))


def large_metadata(port):
    """A whole request with 32 KiB of metadata in one field, one with 32 KiB in 512 fields, then an
    ordinary one, on one connection: the three answers."""
    sock, conn = connect(port)
    empty_message = b"\x00\x00\x00\x00\x00"
    results = []
    for stream_id, extra in [(1, [("x-large", "m" * (32 << 10))]),
                             (3, [(f"x-field-{i}", "v" * 32) for i in range(512)]),
                             (5, [("x-small", "fine")])]:
        conn.send_headers(stream_id, check_headers(port, extra))
        conn.send_data(stream_id, empty_message, end_stream=True)
        results.append(answer(sock, conn, stream_id, until_reset=False))
    print(json.dumps(results))


def no_handshake(port):
    """Connects and sends nothing: how long until the server closes the connection."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(PATIENCE)
    started = time.monotonic()
    result = {"closed": False}
    try:
        while sock.recv(65535):
            pass
        result["closed"] = True
    except socket.timeout:
        result["timed_out"] = True
    except ConnectionResetError:
        result["closed"] = True
    result["seconds"] = time.monotonic() - started
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("probe", choices=["stalled-request", "large-metadata", "no-handshake"])
    parser.add_argument("--grpc-timeout")
    args = parser.parse_args()
    if args.probe == "stalled-request":
        stalled_request(args.port, args.grpc_timeout)
    elif args.probe == "large-metadata":
        large_metadata(args.port)
    else:
        no_handshake(args.port)


if __name__ == "__main__":
    main()
