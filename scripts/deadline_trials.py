#!/usr/bin/env python3
"""A buyer's deadline reaches every service the gateway calls, as what is left of it, and
nothing those services write commits after it, or after their caller's, has passed.

    scripts/deadline-trials [--trials 200] [--deadline-ms 300] [--concurrency 5] [--bin DIR]

Starts the four services (chaos.py's Suite) on a throwaway PostgreSQL that records commit times
(track_commit_timestamp), with traces sent to a local OTLP receiver
(Tests/Support/otlp_receiver.py). Then, --trials times: a new purchase, resolved without a
deadline, and RegisterAndActivate with a --deadline-ms deadline and a trace of its own,
--concurrency at a time. The gateway serves it by calling the billing center (the account) and
the console (the workspace); with the password hashers busy, the deadline cuts some trials
short, at any step.

Checked per trial, from the spans each service exported and the databases:
  - the gateway received the deadline, and every call made while serving it (the gateway's to
    the billing center and the console, the billing center's to the console) carried one
    (`rpc.grpc.request.metadata.grpc-timeout`, which the server span records): never more than
    the caller's own budget less the time its earlier work on the RPC (calls and statements,
    in its spans) had taken;
  - no callee sent a COMMIT, or a write outside a transaction, after its own deadline (its
    span start plus its budget);
  - each trial's statuses (OK, DEADLINE_EXCEEDED; anything else fails).
  - no row written for the trials by the billing center (the account) or the console (the
    Guance account, the workspace) was committed, by PostgreSQL's commit timestamp, after the
    buyer's deadline or after the deadline of the caller that asked for it. A deadline
    propagates as a relative timeout, so a callee's runs from when the call reached it (later
    than its caller's by the trip), and a COMMIT sent in time lands after its own round trip:
    callers keep back a margin for both (RequestContext.hopMargin and commitReserve).
Reported besides: how close to those deadlines rows were committed, and how the budget shrank
from hop to hop. Exits 1 when a check fails.
"""
import argparse
import concurrent.futures
import json
import os
import secrets
import subprocess
import sys
import time

import grpc
from google.protobuf import json_format

import chaos
import grpc_call as RPC

ROOT = chaos.ROOT
GATEWAY = "guance.gateway.v1.ActivationService"
TIMEOUT = "rpc.grpc.request.metadata.grpc-timeout"
SERVER, CLIENT = 2, 3  # OTLP's SpanKind
# A grpc-timeout is written in whole units of its finest unit that fits (microseconds here).
ENCODING_MS = 0.001
WRITES = {"INSERT", "UPDATE", "DELETE", "WITH", "MERGE"}
UNITS = {"H": 3600e3, "M": 60e3, "S": 1e3, "m": 1.0, "u": 1e-3, "n": 1e-6}


def budget_ms(span):
    """The grpc-timeout a server span recorded, in milliseconds; None without one."""
    value = span["attributes"].get(TIMEOUT)
    if isinstance(value, list):
        value = value[0] if value else None
    return int(value[:-1]) * UNITS[value[-1]] if value else None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--deadline-ms", type=float, default=300)
    parser.add_argument("--concurrency", type=int, default=5, help="trials at once")
    parser.add_argument("--bin", default=None, help="the built executables (default: swift build --show-bin-path)")
    args = parser.parse_args()
    RPC.load_protos()
    bin_dir, work = chaos.built_and_folder(args.bin, "deadline-trials")
    spans_file, port_file = os.path.join(work, "spans.jsonl"), os.path.join(work, "otlp.port")
    receiver = subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests/Support/otlp_receiver.py"),
                                 port_file, spans_file])
    suite = chaos.Suite(work, bin_dir)
    try:
        while not os.path.exists(port_file):
            time.sleep(0.05)
        with open(port_file) as f:
            otlp = f"http://127.0.0.1:{f.read().strip()}"
        for name in chaos.SERVICES:
            suite.env[name].update({"OTEL_EXPORTER_OTLP_ENDPOINT": otlp, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                                    "OTEL_BSP_SCHEDULE_DELAY": "200"})
        os.environ["PG_OPTIONS"] = "-c track_commit_timestamp=on"
        suite.start_all()
        for instance in suite.instances:
            suite.wait_ready(instance)
        trials = run_trials(suite, args)
        spans = wait_for_spans(spans_file, trials)
        sys.exit(report(suite, trials, spans, args))
    finally:
        suite.stop_all()
        receiver.terminate()
        receiver.wait()


def run_trials(suite, args):
    """Each trial: {name, trace, subscription, sent (Unix ns), code}. --concurrency at once, so
    that password hashing and the databases are busy enough for some to miss the deadline."""
    channel = suite.channels["marketplace-gateway"]
    stub, request_class = RPC.unary(channel, f"{GATEWAY}/RegisterAndActivate")

    def trial(i):
        buyer = chaos.Buyer(suite, channel, "register")
        buyer.name = name = f"deadline{i}x{secrets.token_hex(4)}"
        session = buyer.purchase()
        request = json_format.ParseDict(chaos.registration(session, name, "us1"), request_class())
        trace = secrets.token_hex(16)
        metadata = [("traceparent", f"00-{trace}-{secrets.token_hex(8)}-01"), ("x-request-id", name)]
        sent = time.time_ns()
        try:
            stub(request, timeout=args.deadline_ms / 1000, metadata=metadata)
            code = "OK"
        except grpc.RpcError as error:
            code = error.code().name
        return {"name": name, "trace": trace, "subscription": buyer.subscription, "sent": sent, "code": code}

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        return list(pool.map(trial, range(args.trials)))


def wait_for_spans(spans_file, trials, patience=60):
    """Every span exported, by trace: once each trial's gateway span has arrived, and a second
    more for the spans that ended before it but came in a later batch."""
    wanted, deadline = {t["trace"] for t in trials}, time.time() + patience
    while time.time() < deadline:
        spans = read_spans(spans_file)
        if all(any(s["service"] == "marketplace-gateway" and s["kind"] == SERVER for s in spans.get(t, []))
               for t in wanted):
            time.sleep(1)
            return read_spans(spans_file)
        time.sleep(0.5)
    raise RuntimeError("the services did not export every trial's spans")


def read_spans(spans_file):
    spans = {}
    if os.path.exists(spans_file):
        with open(spans_file) as f:
            for line in f:
                span = json.loads(line)
                spans.setdefault(span["trace_id"], []).append(span)
    return spans


def report(suite, trials, spans, args):
    problems, hops, shrink, late_for_buyer, late_for_caller = [], [], [], [], []
    codes = {}
    commits = committed_rows(suite, trials)
    for trial in trials:
        codes[trial["code"]] = codes.get(trial["code"], 0) + 1
        if trial["code"] not in ("OK", "DEADLINE_EXCEEDED"):
            problems.append(f"{trial['name']}: {trial['code']}")
        trace = spans.get(trial["trace"], [])
        servers = [s for s in trace if s["kind"] == SERVER]
        gateway = next((s for s in servers if s["service"] == "marketplace-gateway"), None)
        # grpcio rounds the timeout it sends up to whole milliseconds.
        if gateway is None or budget_ms(gateway) is None or budget_ms(gateway) > args.deadline_ms + 1:
            problems.append(f"{trial['name']}: the gateway's span has no deadline of at most {args.deadline_ms} ms")
            continue
        by_id = {s["span_id"]: s for s in trace}
        callers = {}
        for callee in servers:
            if callee is gateway:
                continue
            budget = budget_ms(callee)
            if budget is None:
                problems.append(f"{trial['name']}: {callee['service']} {callee['name']} was called without a deadline")
                continue
            call = by_id.get(callee["parent_span_id"])
            caller = call
            while caller is not None and caller["kind"] != SERVER:
                caller = by_id.get(caller["parent_span_id"])
            if call is None or caller is None or budget_ms(caller) is None:
                problems.append(f"{trial['name']}: {callee['name']} has no caller with a deadline in the trace")
                continue
            # The caller (the gateway, or the billing center calling the console) reads what is
            # left of its budget after its earlier work on the RPC ended (its earlier calls and
            # statements, one after another) and before this call's span opens. So the budget
            # it gives can be no more than what was left when that earlier work ended: a strict
            # bound. How far it exceeds what was left when the call's span opened shows the
            # instants between the two, reported only.
            given = budget_ms(caller)
            earlier = [s["end"] for s in trace if s["service"] == call["service"] and s["kind"] == CLIENT
                       and s["start"] >= caller["start"] and s["end"] <= call["start"] and s is not call]
            floor = max(earlier, default=caller["start"])
            left = given - (floor - caller["start"]) / 1e6
            hops.append(budget - (given - (call["start"] - caller["start"]) / 1e6))
            shrink.append(given - budget)
            # Past the deadline a call still goes out, with the least timeout there is (1 ns),
            # and fails at once.
            if budget > max(left, 0) + ENCODING_MS:
                problems.append(f"{trial['name']}: {callee['name']} was given {budget:.3f} ms; "
                                f"{left:.3f} ms were left when its caller's earlier work ended")
            # Nothing is committed once the callee's own deadline has passed: no COMMIT, and no
            # write outside a transaction, starts after it (its span start plus its budget).
            deadline = callee["start"] + budget * 1e6
            for sent in writes_served_by(callee, trace, by_id):
                if sent["start"] > deadline:
                    problems.append(f"{trial['name']}: {callee['service']} sent {sent['name']} "
                                    f"{(sent['start'] - deadline) / 1e6:.1f} ms after its deadline "
                                    f"(trace {trial['trace']})")
            callers.setdefault(callee["service"], []).append(caller["start"] + given * 1e6)
        # The rows themselves, by when PostgreSQL committed them: none after the buyer's
        # deadline or the deadline of the caller that asked for them. A callee's deadline runs
        # from when the call reached it, later than its caller's by the trip, and a COMMIT sent
        # in time lands after its own round trip: what callers keep back for both
        # (RequestContext.hopMargin, commitReserve) is what this checks.
        buyer_deadline = trial["sent"] + args.deadline_ms * 1e6
        for service, committed in commits.get(trial["name"], []):
            late_for_buyer.append((committed - buyer_deadline) / 1e6)
            # A service's calls in one trial are one step and its retries: the latest counts.
            late_for_caller.append((committed - max(callers.get(service, [committed]))) / 1e6)
            for whose, lateness in (("the buyer's", late_for_buyer[-1]), ("its caller's", late_for_caller[-1])):
                if lateness > 0:
                    problems.append(f"{trial['name']}: a row {service} wrote committed {lateness:.1f} ms "
                                    f"after {whose} deadline (trace {trial['trace']})")

    print(f"deadline trials: {len(trials)} RegisterAndActivate calls with a {args.deadline_ms:.0f} ms deadline: "
          + ", ".join(f"{n} {c}" for c, n in sorted(codes.items())))
    if shrink:
        print(f"  calls to the billing center and the console: {len(shrink)}, each given what was left: "
              f"budget below its caller's by p50 {chaos.percentile(shrink, 0.5):.1f} ms, "
              f"max {max(shrink):.1f} ms; given beyond what was left when the call began: "
              f"p50 {chaos.percentile(hops, 0.5):+.2f} ms, max {max(hops):+.2f} ms")
    if late_for_buyer:
        def after(lateness):
            later = [x for x in lateness if x > 0]
            if later:
                return f"{len(later)} (latest {max(later):.1f} ms after)"
            return f"0 (the closest {-max(lateness):.1f} ms before)"
        print(f"  rows the callees wrote: {len(late_for_buyer)}; committed after the buyer's deadline: "
              f"{after(late_for_buyer)}, after their caller's: {after(late_for_caller)}; COMMITs and single "
              f"writes sent after the callee's own deadline: {sum(1 for p in problems if 'after its deadline' in p)}")
    for problem in problems[:20]:
        print(f"  FAIL {problem}")
    print(f"  logs and spans: {suite.work}")
    return 1 if problems else 0


def writes_served_by(callee, trace, by_id):
    """The COMMITs, and the writes outside a transaction, that `callee` sent while serving its
    call: SQL spans of its service whose nearest server span is `callee`."""
    for span in trace:
        if span["service"] != callee["service"] or "db.query.text" not in span["attributes"]:
            continue
        parent, in_transaction = by_id.get(span["parent_span_id"]), False
        while parent is not None and parent["kind"] != SERVER:
            in_transaction = in_transaction or parent["name"] == "BEGIN"
            parent = by_id.get(parent["parent_span_id"])
        if parent is not callee:
            continue
        if span["name"] == "COMMIT" or (not in_transaction and span["name"] in WRITES):
            yield span


def committed_rows(suite, trials):
    """{trial name: [(service, commit time in Unix ns)]} for the rows written for each trial:
    its billing center account, and its Guance account and workspace."""
    names = ", ".join(f"'{t['name']}'" for t in trials)
    rows = {}
    queries = {
        "billing-center": ("billing_center", f"""
            SELECT username, (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1e9)::bigint
            FROM billing_accounts WHERE username IN ({names})"""),
        "workspace-console": ("workspace_console", f"""
            SELECT a.username, (extract(epoch FROM pg_xact_commit_timestamp(a.xmin)) * 1e9)::bigint
            FROM accounts a WHERE a.username IN ({names})
            UNION ALL
            SELECT a.username, (extract(epoch FROM pg_xact_commit_timestamp(w.xmin)) * 1e9)::bigint
            FROM workspaces w JOIN accounts a ON a.id = w.owner_account_id WHERE a.username IN ({names})"""),
    }
    for service, (database, sql) in queries.items():
        for name, committed in suite.psql(database, sql):
            rows.setdefault(name, []).append((service, int(committed)))
    return rows


if __name__ == "__main__":
    main()
