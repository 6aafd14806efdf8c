#!/usr/bin/env python3
"""A newcomer is served while other connections flood the server: a burst of --requests
ordinary RPCs over --connections connections, and new connections' first RPC timed meanwhile.

    scripts/newcomer [--requests 30000] [--connections 120] [--rounds 3] [--bin DIR]
                     [--goal-ms MS] [--results FILE]

Starts workspace-console alone (chaos.py's Suite, its own event loops) on a throwaway
PostgreSQL. Each round, h2load (nghttp2-client) sends --requests WorkspaceConsoleService/ListSites
calls over --connections connections, each asking for up to 250 in flight; the console's
SETTINGS allow 24 per connection (GRPC_MAX_CONCURRENT_STREAMS), and streams h2load opens beyond
them before those SETTINGS reach it are refused (REFUSED_STREAM, never begun: gRPC clients
retry them; h2load counts them as errored). Meanwhile, every 50 ms, a newcomer opens a
connection of its own and times its first ListSites from the moment it starts connecting.
Reported per round: how long the burst took, h2load's count of its calls and their HTTP
statuses (it does not read gRPC trailers), and the newcomers' first-RPC times (p50/max).
Checked: every newcomer was answered OK, and with --goal-ms, within that time (the slowest);
exits 1 otherwise. --results writes the rounds as a Markdown table (make bench: release build,
--requests 300000, --goal-ms 100, bench/results/newcomer.md).

Why the bound per connection matters: the kernel accepts a newcomer's TCP connection at once,
but the server answers neither its SETTINGS nor its request until its event loop has run every
RPC that its reads of the other connections began, so the RPCs one connection may have under
way, times the connections flooding, decide the wait. Release build, --requests 300000: at 256
streams per connection newcomers took p50 0.45-0.73 s, max 0.78-1.24 s; at 24, p50 50-52 ms,
max 81-86 ms, the burst 3.4 s against 3.1-3.3 s. A debug build is several times slower at
every step; its figures say little about the goal. For a release build: --bin .build/release.
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
    parser.add_argument("--goal-ms", type=float, default=None,
                        help="fail a round whose slowest newcomer took longer than this")
    parser.add_argument("--results", default=None, help="write the rounds as a Markdown table here")
    args = parser.parse_args()
    RPC.load_protos()
    bin_dir, work = chaos.built_and_folder(args.bin, "newcomer")
    body = os.path.join(work, "empty.grpc")
    with open(body, "wb") as f:
        f.write(b"\x00\x00\x00\x00\x00")  # one uncompressed, empty message
    problems, rows = [], []
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
            if args.goal_ms is not None and max(times) > args.goal_ms:
                problems.append(f"round {n + 1}: a newcomer waited {max(times):.0f} ms, over {args.goal_ms:.0f} ms")
            rows.append(f"| {n + 1} | {seconds:.1f} s | {'; '.join(lines)} | {len(firsts)} | "
                        f"{chaos.percentile(times, 0.5):.0f} ms | {max(times):.0f} ms |")
    if args.results:
        write_results(args, rows, problems)
    chaos.conclude(problems, work)


def write_results(args, rows, problems):
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=chaos.ROOT).stdout.strip()
    goal = f"{args.goal_ms:.0f} ms" if args.goal_ms is not None else "none"
    with open(args.results, "w") as f:
        f.write(f"""# A newcomer's first RPC during a flood

Measured {time.strftime('%Y-%m-%d', time.gmtime())} at commit {commit} by `scripts/newcomer` on {os.cpu_count()} cores
({os.path.basename(os.path.normpath(args.bin)) + ' build' if args.bin else 'debug build'}). Each round: h2load sends {args.requests} ListSites over
{args.connections} connections (up to 250 asked in flight each; the console allows 24 per
connection), while a new connection opens every 50 ms and times its first ListSites from the
moment it starts connecting. Goal for the slowest newcomer: {goal}.

| round | burst | h2load | newcomers | first RPC p50 | max |
| --- | --- | --- | --- | --- | --- |
""" + "\n".join(rows) + "\n\n" + ("Met in every round.\n" if not problems else
                                    "Not met:\n" + "".join(f"- {p}\n" for p in problems)))


if __name__ == "__main__":
    main()
