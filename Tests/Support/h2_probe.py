"""Raw HTTP/2 probes of the suite's gRPC transport, for what a gRPC client cannot do: a request
that never finishes, a connection that never finishes its handshake. Prints one JSON object.

  h2_probe.py PORT stalled-request [--grpc-timeout 1S]
  h2_probe.py PORT large-metadata
  h2_probe.py PORT no-handshake
  h2_probe.py PORT window-update-flood COUNT
  h2_probe.py PORT ping-flood-unread
  h2_probe.py PORT half-sent COUNT          (3 streams on each of COUNT connections)
"""
import argparse
import json
import select
import socket
import struct
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


def window_update_flood(port, count):
    """COUNT connection WINDOW_UPDATEs of 1 byte, then reads: whether the server sent GOAWAY, with
    which code, and closed the connection."""
    sock, conn = connect(port)
    for _ in range(count):
        conn.increment_flow_control_window(1)
    result = {"goaway": None, "closed": False}
    try:
        sock.sendall(conn.data_to_send())
        while True:
            data = sock.recv(65535)
            if not data:
                result["closed"] = True
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ConnectionTerminated):
                    result["goaway"] = int(event.error_code)
    except (ConnectionResetError, BrokenPipeError):
        result["closed"] = True
    except socket.timeout:
        result["timed_out"] = True
    print(json.dumps(result))


def ping_flood_unread(port, limit=4_000_000):
    """PINGs as fast as the socket takes them, never reading the answers (a small receive buffer):
    whether the server stops taking them and closes the connection, and how many went."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(PATIENCE)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    ping = bytes.fromhex("000008060000000000") + b"12345678"
    batch = ping * 256
    sent = 0
    result = {"closed": False}
    started = time.monotonic()
    try:
        while sent < limit:
            sock.sendall(batch)
            sent += 256
    except (ConnectionResetError, BrokenPipeError):
        result["closed"] = True
    except socket.timeout:
        result["timed_out"] = True
    result["pings_sent"] = sent
    result["seconds"] = time.monotonic() - started
    print(json.dumps(result))


def half_sent(port, connections, streams=3, size=4 << 20):
    """On each of CONNECTIONS connections in turn (all kept open), STREAMS streams that send all
    but the last byte of a (SIZE - 1)-byte message: per connection, how many the server refused
    with RESOURCE_EXHAUSTED and how many it still holds."""
    opened = []
    results = []
    for _ in range(connections):
        sock, conn = connect(port)
        opened.append(sock)
        ids = [1 + 2 * i for i in range(streams)]
        body = struct.pack(">BI", 0, size - 1) + b"x" * (size - 2)
        sent = {sid: 0 for sid in ids}
        status = {}
        for sid in ids:
            conn.send_headers(sid, check_headers(port))
        sock.sendall(conn.data_to_send())
        quiet_until = None
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            for sid in ids:
                if sid in status or sent[sid] == len(body):
                    continue
                n = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size, len(body) - sent[sid])
                if n > 0:
                    conn.send_data(sid, body[sent[sid]:sent[sid] + n])
                    sent[sid] += n
            sock.sendall(conn.data_to_send())
            done = all(sid in status or sent[sid] == len(body) for sid in ids)
            if done and quiet_until is None:
                # Everything sent: a moment more for the answers to what was sent last.
                quiet_until = time.monotonic() + 1.0
            if quiet_until is not None and time.monotonic() > quiet_until:
                break
            if select.select([sock], [], [], 0.05)[0]:
                data = sock.recv(1 << 20)
                if not data:
                    break
                for event in conn.receive_data(data):
                    sid = getattr(event, "stream_id", None)
                    if isinstance(event, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                        for name, value in event.headers:
                            if name == "grpc-status":
                                status[sid] = int(value)
                    elif isinstance(event, h2.events.StreamReset) and sid not in status:
                        status[sid] = "reset"
                sock.sendall(conn.data_to_send())
        results.append({"refused": sum(1 for v in status.values() if v == 8),
                        "held": sum(1 for sid in ids if sid not in status), "answers": list(status.values())})
    print(json.dumps(results))
    for sock in opened:
        sock.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("probe", choices=["stalled-request", "large-metadata", "no-handshake", "window-update-flood",
                                          "ping-flood-unread", "half-sent"])
    parser.add_argument("count", type=int, nargs="?", default=1000)
    parser.add_argument("--grpc-timeout")
    args = parser.parse_args()
    if args.probe == "stalled-request":
        stalled_request(args.port, args.grpc_timeout)
    elif args.probe == "large-metadata":
        large_metadata(args.port)
    elif args.probe == "window-update-flood":
        window_update_flood(args.port, args.count)
    elif args.probe == "ping-flood-unread":
        ping_flood_unread(args.port)
    elif args.probe == "half-sent":
        half_sent(args.port, args.count)
    else:
        no_handshake(args.port)


if __name__ == "__main__":
    main()
