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
for much of the burst: its TCP connection is accepted by the kernel at once (h2load as the
newcomer: 0.2 ms to connect), but the server answers neither its SETTINGS nor its request until
the event loop has worked through what it read from the other connections. Release build,
--requests 300000 (a 3 s burst): newcomers p50 0.4-0.65 s, max 0.7-1.1 s. Reading each
connection 2 KiB at a time (one read per readiness, not up to 4 x 64 KiB) brought that to p50
0.11 s, max 0.24 s but cost a quarter of the burst's throughput (4.2 s); 8 KiB, p50 0.35 s at
3.8 s. On a debug build, bounding each connection to 4 RPC tasks waiting to begin, handlers off
the event loop, or 4 event loops changed nothing measurable. For a release build:
--bin .build/release.
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
    bin_dir, work = chaos.built_and_folder(args.bin, "newcomer")
    body = os.path.join(work, "empty.grpc")
    with open(body, "wb") as f:
        f.write(b"\x00\x00\x00\x00\x00")  # one uncompressed, empty message
    problems = []
    with chaos.console_alone(work, bin_dir) as address:
        newcomer(address)  # the first connection of all pays for nothing below
        print(f"newcomer: {args.rounds} bursts of {args.requests} ListSites over {args.connections} connections "
              "(h2load), a new connection's first ListSites every 50 ms meanwhile")
        for n in range(args.rounds):
            bursts = []  # (seconds, h2load's summary), once it is done
            flood = threading.Thread(
                target=lambda: bursts.append(burst(address, args.requests, args.connections, body)))
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
            seconds, lines = bursts[0] if bursts else (float("nan"), ["h2load failed"])
            print(f"  round {n + 1}: burst {seconds:.1f} s "
                  f"({'; '.join(lines)}); {len(firsts)} newcomers, first RPC p50 "
                  f"{chaos.percentile(times, 0.5):.0f} ms, max {max(times):.0f} ms")
            if failed:
                problems.append(f"round {n + 1}: newcomers answered {failed}")
    chaos.conclude(problems, work)


if __name__ == "__main__":
    main()
