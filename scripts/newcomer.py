#!/usr/bin/env python3
"""A newcomer is served while other connections flood the server: a burst of --requests
ordinary RPCs over --connections connections, and new connections' first RPC timed meanwhile.

    scripts/newcomer [--requests 30000] [--connections 120] [--rounds 3] [--bin DIR]

Starts workspace-console alone (chaos.py's Suite, its own event loops) on a throwaway
PostgreSQL. Each round, h2load (nghttp2-client) sends --requests WorkspaceConsoleService/ListSites
calls over --connections connections, each keeping up to 250 in flight (under the console's 256
concurrent streams); meanwhile, every 50 ms, a newcomer opens a connection of its own and
times its first ListSites from the moment it starts connecting. Reported per round: how long
the burst took, h2load's count of its calls and their HTTP statuses (it does not read gRPC
trailers), and the newcomers' first-RPC times
(p50/max), against the goal of 100 ms. Checked: every newcomer was answered OK; exits 1
otherwise. The 100 ms goal is reported, not asserted: it is not met today. A newcomer waits
for about the rest of the burst: its TCP connection is accepted by the kernel at once (h2load
as the newcomer: 0.2 ms to connect), but the server answers neither its SETTINGS nor its
request until the burst is done. Tried one at a time on a debug build, none changed that
measurably: at most 4 of a connection's RPC tasks waiting to begin, handlers off the event
loop, reads of 2 or 8 KiB once per readiness instead of up to 4 x 64 KiB, 4 event loops. (With
h2load beside it on 2 cores, a debug build spends long enough on each request that even a
2 KiB read per connection makes every turn of the loop long.)
"""
import argparse
import os
import subprocess
import sys
import threading
import time

import grpc

import chaos
import grpc_call as RPC

SITES = "guance.console.v1.WorkspaceConsoleService/ListSites"


def newcomer(address):
    """(seconds from connecting to the first answer, status name) of one new connection."""
    started = time.perf_counter()
    with grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
        stub, request_class = RPC.unary(channel, SITES)
        try:
            stub(request_class(), timeout=30, wait_for_ready=True)
            return time.perf_counter() - started, "OK"
        except grpc.RpcError as error:
            return time.perf_counter() - started, error.code().name


def burst(address, requests, connections, body):
    """Runs h2load; (seconds, its summary lines)."""
    started = time.perf_counter()
    out = subprocess.run(
        ["h2load", "-n", str(requests), "-c", str(connections), "-m", "250", "-t", "1", "-d", body,
         "-H", "content-type: application/grpc", "-H", "te: trailers", f"http://{address}/{SITES}"],
        capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - started, [l for l in out.splitlines() if l.startswith(("requests:", "status codes:"))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=30000)
    parser.add_argument("--connections", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bin", default=None, help="the built executables (default: swift build --show-bin-path)")
    args = parser.parse_args()
    RPC.load_protos()
    bin_dir = args.bin or subprocess.run(["swift", "build", "--show-bin-path"], cwd=chaos.ROOT, check=True,
                                         capture_output=True, text=True).stdout.strip()
    work = os.path.join(chaos.ROOT, ".run", f"newcomer-{int(time.time())}")
    os.makedirs(work)
    body = os.path.join(work, "empty.grpc")
    with open(body, "wb") as f:
        f.write(b"\x00\x00\x00\x00\x00")  # one uncompressed, empty message
    suite = chaos.Suite(work, bin_dir)
    del suite.env["workspace-console"]["EVENT_LOOP_THREADS"]
    problems = []
    try:
        suite.start_all(names=["workspace-console"])
        suite.wait_ready("workspace-console")
        address = f"127.0.0.1:{suite.ports['workspace-console']}"
        newcomer(address)  # the first connection of all pays for nothing below
        print(f"newcomer: {args.rounds} bursts of {args.requests} ListSites over {args.connections} connections "
              "(h2load), a new connection's first ListSites every 50 ms meanwhile")
        for n in range(args.rounds):
            result = {}
            flood = threading.Thread(target=lambda: result.update(zip(("seconds", "lines"),
                                                                      burst(address, args.requests,
                                                                            args.connections, body))))
            flood.start()
            firsts, newcomers = [], []
            while flood.is_alive():
                # Each on a thread of its own: one still waiting does not hold the next back.
                thread = threading.Thread(target=lambda: firsts.append(newcomer(address)))
                thread.start()
                newcomers.append(thread)
                time.sleep(0.05)
            flood.join()
            for thread in newcomers:
                thread.join()
            times = [t * 1000 for t, _ in firsts]
            failed = [code for _, code in firsts if code != "OK"]
            print(f"  round {n + 1}: burst {result.get('seconds', float('nan')):.1f} s "
                  f"({'; '.join(result.get('lines', []))}); {len(firsts)} newcomers, first RPC p50 "
                  f"{chaos.percentile(times, 0.5):.0f} ms, max {max(times):.0f} ms")
            if failed:
                problems.append(f"round {n + 1}: newcomers answered {failed}")
    finally:
        suite.stop_all()
    for problem in problems:
        print(f"  FAIL {problem}")
    print(f"  logs: {work}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
