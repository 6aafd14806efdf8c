#!/usr/bin/env python3
"""What callers of workspace-console see while its PostgreSQL is paused or drops connections.

    $(scripts/python-env.sh) scripts/db_faults.py [--bin DIR] [--seed N] [--threads N]
                                                  [--pauses 5 30] [--drop-for 60] [--quick]

Starts the suite (chaos.py's Suite: all four services, or --console-only) on a throwaway
PostgreSQL cluster, creates one workspace per load thread, then runs a steady load: each thread
calls, with a 1 s client deadline, either WorkspaceDirectoryService/LookupWorkspace (one
SELECT) or SetWorkspaceStatus on its own workspace (a transaction: SELECT FOR UPDATE, UPDATE,
INSERT into workspace_status_changes), half and half. Meanwhile:

  1. PostgreSQL paused: every process of the cluster is SIGSTOPped for each of --pauses
     seconds (SIGCONT between, with a quiet stretch after each). Reported per phase: statuses,
     how far past its deadline an RPC ended, latency per second after resuming and the time
     until a 1 s window is back to normal, the console's RSS, open fds and sockets to
     PostgreSQL (sampled every 0.5 s; a proxy for bounded work in flight), and the p99 of
     grpc.health.v1.Health/Check probed every 100 ms (it must not need PostgreSQL).
  2. Connections dropped: pg_terminate_backend on every backend of the suite's databases every
     2 s for --drop-for seconds, then a fast restart of the cluster (pg.sh stop + start).
     Reported: statuses, how soon an RPC succeeded again after each drop and after the restart,
     and whether any service process exited.
  3. Afterwards: the services still run and answer; each exits within 12 s of SIGTERM (a 5 s drain, then
     cancellation, then the runtime's fatal error: exit code not 0); the
     status history is one unbroken chain per workspace, with no request applied twice and no
     change from a status to itself (repeating a status is a no-op); the writes committed for
     calls that reported an error; the most frequent warnings and errors each service logged.

Prints the figures and PASS/FAIL per goal; exits 1 when a goal fails. The cluster is always
resumed (SIGCONT) and destroyed on the way out, even after Ctrl-C or an exception. Logs stay
in .run/db-faults-<seed>-<time>/. A default run takes about 2.5 minutes, --quick under one.
"""
import argparse
import bisect
import collections
import datetime
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import grpc

import chaos  # scripts/chaos.py, beside this script: Suite, percentile, PASSWORD
import grpc_call as RPC

ROOT = chaos.ROOT
CONSOLE = "workspace-console"
DIRECTORY = "guance.console.v1.WorkspaceDirectoryService"
HEALTH = "grpc.health.v1.Health/Check"
DEADLINE = 1.0  # the client deadline of every load RPC, in seconds
GRACE = 0.25  # an RPC must have ended by its deadline plus this
SHUTDOWN_DRAIN = 5  # SHUTDOWN_DRAIN_SECONDS given to the services
# A service must have exited by then after SIGTERM: the drain, 5 s of cancellation, some air.
SHUTDOWN_PATIENCE = SHUTDOWN_DRAIN + 5 + 2
THINK = 0.02  # pause between one thread's calls: a steady load that leaves the 2 cores some air
PAUSED_CODES = {"DEADLINE_EXCEEDED", "UNAVAILABLE"}  # acceptable failures while paused
RETRYABLE = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED"}  # acceptable failures on dropped connections
STATUS = {"active": 1, "suspended": 2}  # guance.console.v1.WorkspaceStatus


def now():
    return time.monotonic()


def say(text):
    """Progress, on stderr: the report on stdout stays compact."""
    print(f"db_faults: {text}", file=sys.stderr, flush=True)


percentile = chaos.percentile


def ms(seconds):
    return f"{seconds * 1000:.0f}" if seconds == seconds else "-"  # NaN (no data) prints as "-"


# One RPC as its caller saw it. `client_side`: a DEADLINE_EXCEEDED the client's own timer
# raised (grpc's fixed "Deadline Exceeded"), as opposed to one the server answered.
Call = collections.namedtuple("Call", "kind start end code client_side detail request_id workspace target")


class Cluster:
    """The suite's private PostgreSQL cluster: paused and resumed as a whole, its backends
    terminated, restarted fast."""

    def __init__(self, suite):
        self.suite = suite
        self.pg_dir = os.path.join(suite.work, "pg")
        self.stopped = set()  # every pid we SIGSTOPped and have not yet SIGCONTed

    def postmaster(self):
        # As root pg.sh keeps the data outside DIR behind a link; realpath follows it.
        with open(os.path.join(os.path.realpath(os.path.join(self.pg_dir, "data")), "postmaster.pid")) as f:
            return int(f.readline())

    @staticmethod
    def children(pid):
        found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        return [int(p) for p in found.split()]

    def pause(self):
        # The postmaster first, so that it forks no new backend while its children are being
        # stopped; then the children, listed twice to catch one forked just before.
        master = self.postmaster()
        self._signal(master, signal.SIGSTOP)
        for _ in range(2):
            for child in self.children(master):
                if child not in self.stopped:
                    self._signal(child, signal.SIGSTOP)

    def resume(self):
        """SIGCONT to everything stopped (and to every process of the cluster, in case one was
        stopped before it was recorded). Safe to call any time, any number of times."""
        pids = set(self.stopped)
        try:
            master = self.postmaster()
            pids |= {master, *self.children(master)}
        except (OSError, ValueError):
            pass  # no cluster (any more): only what was recorded
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.stopped.clear()

    def _signal(self, pid, sig):
        try:
            os.kill(pid, sig)
            self.stopped.add(pid)
        except ProcessLookupError:
            pass

    def terminate_backends(self, databases):
        """Terminates every connection to `databases`; how many it terminated."""
        names = ", ".join(f"'{d}'" for d in databases)
        return int(self.suite.psql("postgres", f"""
            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname IN ({names}) AND pid <> pg_backend_pid()""")[0][0])

    def restart(self):
        pg = os.path.join(ROOT, "scripts/pg.sh")
        subprocess.run([pg, "stop", self.pg_dir], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([pg, "start", self.pg_dir, str(self.suite.pg_port)], check=True, stdout=subprocess.DEVNULL)


class Load:
    """`threads` callers in a closed loop, each waiting THINK between calls; every call recorded."""

    def __init__(self, address, credential, workspaces, threads, seed):
        self.channel = grpc.insecure_channel(address)
        self.lookup, self.lookup_request = RPC.unary(self.channel, f"{DIRECTORY}/LookupWorkspace")
        self.set_status, self.set_status_request = RPC.unary(self.channel, f"{DIRECTORY}/SetWorkspaceStatus")
        self.credential, self.workspaces, self.seed = credential, workspaces, seed
        self.calls, self.stop = [], threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=DEADLINE + 2)
        self.channel.close()

    def run(self, index):
        rng = random.Random(self.seed * 1000 + index)
        own = self.workspaces[index]  # writes go to the thread's own workspace: no lock waits
        target, sequence = "suspended", 0
        while not self.stop.is_set():
            sequence += 1
            request_id = f"dbf-{index}-{sequence}"
            metadata = (("authorization", f"Bearer {self.credential}"), ("x-request-id", request_id))
            if rng.random() < 0.5:
                kind, workspace, wanted = "read", rng.choice(self.workspaces), None
                stub, request = self.lookup, self.lookup_request(workspace_id=workspace)
            else:
                # Toggled whatever the last answer was: after a failed call the next one may be a
                # no-op (same status), which writes no row; the history stays checkable.
                kind, workspace, wanted = "write", own, target
                stub = self.set_status
                request = self.set_status_request(workspace_id=own, status=STATUS[target], reason="db_faults load")
                target = "active" if target == "suspended" else "suspended"
            started = now()
            code, client_side, detail = "OK", False, ""
            try:
                stub(request, metadata=metadata, timeout=DEADLINE)
            except grpc.RpcError as error:
                code, detail = error.code().name, error.details() or ""
                client_side = code == "DEADLINE_EXCEEDED" and detail == "Deadline Exceeded"
            self.calls.append(Call(kind, started, now(), code, client_side, detail, request_id, workspace, wanted))
            self.stop.wait(THINK)


class Probe:
    """grpc.health.v1.Health/Check every 100 ms on a connection of its own."""

    def __init__(self, address):
        # A subchannel of its own: the probe must not queue behind the load's connection.
        self.channel = grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])
        self.check, self.request = RPC.unary(self.channel, HEALTH)
        self.results, self.stop = [], threading.Event()  # (start, end, code or SERVING status name)
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(0.1):
            started = now()
            try:
                reply = self.check(self.request(service=""), timeout=DEADLINE)
                code = "OK" if reply.status == 1 else f"status {reply.status}"  # 1: SERVING
            except grpc.RpcError as error:
                code = error.code().name
            self.results.append((started, now(), code))

    def finish(self):
        self.stop.set()
        self.thread.join(timeout=DEADLINE + 2)
        self.channel.close()


class Sampler:
    """The console's RSS, open fds and TCP sockets to PostgreSQL, every 0.5 s."""

    def __init__(self, pid, pg_port):
        self.pid, self.pg_port = pid, pg_port
        self.samples, self.stop = [], threading.Event()  # (time, rss KiB, fds, PG sockets)
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while True:
            try:
                self.samples.append((now(), *self.sample()))
            except (OSError, ValueError):
                pass  # the process is gone: survival is checked elsewhere
            if self.stop.wait(0.5):
                return

    def sample(self):
        with open(f"/proc/{self.pid}/status") as f:
            rss = next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        links = []
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                links.append(os.readlink(f"/proc/{self.pid}/fd/{fd}"))
            except OSError:
                pass  # closed meanwhile
        # Sockets whose remote end is PostgreSQL's port, in any state: connections the pool
        # holds or is still trying to open (a paused postmaster leaves them hanging).
        to_pg = set()
        with open(f"/proc/{self.pid}/net/tcp") as f:
            for line in list(f)[1:]:
                fields = line.split()
                if int(fields[2].split(":")[1], 16) == self.pg_port:
                    to_pg.add(f"socket:[{fields[9]}]")
        return rss, len(links), sum(1 for link in links if link in to_pg)

    def finish(self):
        self.stop.set()
        self.thread.join(timeout=2)

    def peaks(self, begin, end):
        inside = [s for s in self.samples if begin <= s[0] < end]
        if not inside:
            return None
        return tuple(max(s[i] for s in inside) for i in (1, 2, 3))


def call_with_retry(stub, request, metadata=(), patience=60):
    """Set-up calls: sent again after anything retryable until they answer."""
    deadline = now() + patience
    while True:
        try:
            return stub(request, metadata=metadata, timeout=15, wait_for_ready=True)
        except grpc.RpcError as error:
            if error.code().name not in RETRYABLE or now() > deadline:
                raise
            time.sleep(0.2)


def create_workspaces(address, count, seed):
    """One account and workspace per load thread, through RegisterAndCreateWorkspace."""
    ids = []
    with grpc.insecure_channel(address) as channel:
        stub, request_class = RPC.unary(channel, "guance.console.v1.WorkspaceConsoleService/RegisterAndCreateWorkspace")
        for i in range(count):
            name = f"dbf{seed}x{i}{uuid.uuid4().hex[:8]}"
            reply = call_with_retry(stub, request_class(
                workspace_name=f"{name} ops", language="en", site="us1", username=name,
                password=chaos.PASSWORD, password_confirmation=chaos.PASSWORD, email=f"{name}@faults.example",
                terms_accepted=True, creation_key=name))
            ids.append(reply.workspace.id)
    return ids


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bin", default=None, help="the built executables (default: swift build --show-bin-path)")
    parser.add_argument("--threads", type=int, default=8, help="load threads (default 8)")
    parser.add_argument("--pauses", type=float, nargs="+", default=None, metavar="SECONDS",
                        help="how long each PostgreSQL pause lasts (default 5 30; --quick 2 5)")
    parser.add_argument("--drop-for", type=float, default=None, metavar="SECONDS",
                        help="how long connections are dropped every 2 s (default 60; --quick 10)")
    parser.add_argument("--quick", action="store_true", help="short phases: the whole run in under a minute")
    parser.add_argument("--console-only", action="store_true", help="start workspace-console alone")
    parser.add_argument("--no-restart", action="store_true", help="skip the fast restart after the drops")
    parser.add_argument("--log-level", default=None, metavar="LEVEL",
                        help="LOG_LEVEL of every service (default: chaos.py's, notice); debug or trace shows "
                             "what ServiceGroup and PostgresNIO do")
    args = parser.parse_args()
    # Phase lengths: the quiet stretch before the first pause (the baseline), after each pause
    # and after the restart; long enough after a pause to see the goal of 5 s met or missed.
    if args.quick:
        args.pauses, args.drop_for = args.pauses or [2, 5], args.drop_for if args.drop_for is not None else 10
        args.before, args.after = 3.0, 6.0
    else:
        args.pauses, args.drop_for = args.pauses or [5, 30], args.drop_for if args.drop_for is not None else 60
        args.before, args.after = 8.0, 10.0

    RPC.load_protos()
    bin_dir, work = chaos.built_and_folder(args.bin, f"db-faults-{args.seed}")
    services = [CONSOLE] if args.console_only else chaos.SERVICES
    suite = chaos.Suite(work, bin_dir)
    # A short drain, so that the shutdown check below sees the runtime's escalation (drain,
    # then cancellation, then a fatal error 5 s later) within its patience.
    for env in suite.env.values():
        env["SHUTDOWN_DRAIN_SECONDS"] = str(SHUTDOWN_DRAIN)
    if args.log_level:
        for name in suite.env:
            suite.env[name]["LOG_LEVEL"] = args.log_level
    cluster = Cluster(suite)
    load = probe = sampler = None

    # SIGTERM unwinds like Ctrl-C, so that the cleanup below runs for either.
    def interrupted(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupted)
    failed = True
    try:
        say(f"starting {', '.join(services)} on a private PostgreSQL in {work}")
        suite.start_all(services)
        for name in services:
            suite.wait_ready(name)
        pids = {name: suite.processes[name].pid for name in services}
        address = suite.address(CONSOLE)
        credential = suite.env[CONSOLE]["INTERNAL_CREDENTIAL"]
        workspaces = create_workspaces(address, args.threads, args.seed)

        load = Load(address, credential, workspaces, args.threads, args.seed)
        probe = Probe(address)
        sampler = Sampler(pids[CONSOLE], suite.pg_port)
        timeline = run_faults(args, suite, cluster, load, probe, sampler)
        load.finish()
        probe.finish()
        sampler.finish()
        failed = report(args, suite, load, probe, sampler, timeline, services, pids, workspaces, credential)
    except KeyboardInterrupt:
        say(f"interrupted; logs in {work}")
        failed = None
    finally:
        # Never leave a stopped PostgreSQL behind: resume it before anything else, and let no
        # second Ctrl-C interrupt the cleanup.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cluster.resume()
        for part in (load, probe, sampler):
            if part is not None:
                part.stop.set()
        stop_services(suite, patience=5.0)
        suite.stop_all()  # the services are gone by now: this destroys the cluster
    sys.exit(130 if failed is None else 1 if failed else 0)


def run_faults(args, suite, cluster, load, probe, sampler):
    """Runs the load through both fault phases; the times of what was done, for the report."""
    timeline = {"pauses": [], "drops": [], "databases": [suite.database(n) for n in suite.processes]}
    load.start()
    probe.thread.start()
    sampler.thread.start()
    timeline["start"] = now()
    timeline["wall"] = time.time() - timeline["start"]  # to place the services' log lines
    say(f"load running ({len(load.threads)} threads)")
    time.sleep(args.before)

    # 1. PostgreSQL paused.
    for length in args.pauses:
        say(f"PostgreSQL paused for {length:g} s")
        paused = now()
        cluster.pause()
        time.sleep(length)
        cluster.resume()
        resumed = now()
        time.sleep(args.after)
        timeline["pauses"].append((length, paused, resumed, now()))

    # 2. Connections dropped every 2 s, then a fast restart.
    say(f"dropping connections every 2 s for {args.drop_for:g} s, then restarting PostgreSQL")
    timeline["drop_start"] = now()
    tick = timeline["drop_start"]
    while tick < timeline["drop_start"] + args.drop_for:
        asked = now()
        terminated = cluster.terminate_backends(timeline["databases"])
        timeline["drops"].append((asked, now(), terminated))
        tick += 2.0
        time.sleep(max(0.0, tick - now()))
    stopping = now()
    if not args.no_restart:
        cluster.restart()
    timeline["restart"] = (stopping, now())
    time.sleep(args.after)
    timeline["end"] = now()
    say("load done; checking")
    return timeline


def pause_name(timeline, n):
    """'5 s' for the pause of 5 s; '#2 5 s' when two pauses are as long."""
    lengths = [p[0] for p in timeline["pauses"]]
    return f"{lengths[n]:g} s" if lengths.count(lengths[n]) == 1 else f"#{n + 1} {lengths[n]:g} s"


def phase_of(call, timeline):
    """A call overlapping a pause belongs to that pause, one still running when the drops began
    to them; any other to the stretch it began in."""
    for n, (_, paused, resumed, _) in enumerate(timeline["pauses"]):
        if call.start < resumed and call.end > paused:
            return f"paused {pause_name(timeline, n)}"
    if call.end > timeline["drop_start"]:
        return "drops+restart"
    label = "before"
    for n, (_, _, resumed, _) in enumerate(timeline["pauses"]):
        if call.start >= resumed:
            label = f"after {pause_name(timeline, n)}"
    return label


def status_counts(calls):
    counts = collections.Counter(c.code for c in calls)
    parts = []
    for code, n in counts.most_common():
        own = sum(1 for c in calls if c.code == code and c.client_side)
        parts.append(f"{code} {n}" + (f" ({own} by the client's timer)" if own else ""))
    return ", ".join(parts) or "none"


def recovery(calls_by_start, starts, resumed, end, threshold):
    """Seconds from SIGCONT to the start of the first 1 s window (stepped by 0.1 s) whose calls
    all succeeded with a p99 within `threshold`; None when no window in [resumed, end) did."""
    t = resumed
    while t + 1.0 <= end:
        window = [c for c in calls_by_start[bisect.bisect_left(starts, t):bisect.bisect_left(starts, t + 1.0)]
                  if c.end <= end]  # calls still running when the next fault began are that fault's
        if len(window) >= 5 and all(c.code == "OK" for c in window) and \
                percentile([c.end - c.start for c in window], 0.99) <= threshold:
            return t - resumed
        t += 0.1
    return None


def next_success(calls_by_start, starts, since):
    """Seconds from `since` to the end of the first successful call begun at or after it."""
    ends = [c.end for c in calls_by_start[bisect.bisect_left(starts, since):] if c.code == "OK"]
    return min(ends) - since if ends else None


def report(args, suite, load, probe, sampler, timeline, services, pids, workspaces, credential):
    """Prints the figures and goals; True when a goal failed."""
    calls = sorted(load.calls, key=lambda c: c.start)
    starts = [c.start for c in calls]
    goals = []  # (passed, text)

    def goal(passed, text):
        goals.append((passed, text))

    phases = collections.OrderedDict()
    for call in calls:
        phases.setdefault(phase_of(call, timeline), []).append(call)
    print(f"db_faults: seed {args.seed}, {args.threads} threads (reads and writes half and half, "
          f"deadline {DEADLINE:g} s), {len(calls)} RPCs in {timeline['end'] - timeline['start']:.0f} s; "
          f"services: {', '.join(services)}")

    # 1. Paused.
    before = [c for c in phases.get("before", []) if c.code == "OK"]
    base_p99 = percentile([c.end - c.start for c in before], 0.99)
    threshold = max(2 * base_p99, 0.005)  # floor: sub-millisecond baselines are all noise
    print(f"  PostgreSQL paused {' s, '.join(f'{p:g}' for p in args.pauses)} s; pre-pause latency "
          f"p50 {ms(percentile([c.end - c.start for c in before], 0.5))} / p99 {ms(base_p99)} ms")
    for label, inside in phases.items():
        if label == "drops+restart":
            continue
        late = max((c.end - c.start) - DEADLINE for c in inside)
        print(f"    {label:<14} {len(inside):>6} RPCs: {status_counts(inside)}; worst end vs deadline "
              f"{late * 1000:+.0f} ms")
    pause_calls = [c for c in calls if phase_of(c, timeline).startswith("paused")]
    latest = max(((c.end - c.start) - DEADLINE for c in calls), default=0)
    goal(latest <= GRACE, f"every RPC ended by its deadline + {ms(GRACE)} ms (latest: {ms(latest)} ms past)")
    odd = collections.Counter(c.code for c in pause_calls if c.code != "OK" and c.code not in PAUSED_CODES)
    goal(not odd, "while paused, failures are DEADLINE_EXCEEDED or UNAVAILABLE only"
         + (f" (also {', '.join(f'{k} {v}' for k, v in odd.items())}: "
            f"{next(c.detail for c in pause_calls if c.code in odd)[:80]!r})" if odd else ""))

    base_samples = sampler.peaks(timeline["start"], timeline["pauses"][0][1])
    for length, paused, resumed, end in timeline["pauses"]:
        seconds = []
        for k in range(min(6, int(end - resumed))):
            # Calls still running when the next fault began are that fault's, not this stretch's.
            second = [c for c in calls if resumed + k <= c.start < resumed + k + 1 and c.end <= end]
            ok = [c.end - c.start for c in second if c.code == "OK"]
            seconds.append(f"{len(second)}/{len(second) - len(ok)} {ms(percentile(ok, 0.5))}/{ms(percentile(ok, 0.99))}")
        print(f"    after the {length:g} s pause, per second (RPCs/failed p50/p99 ms): {'; '.join(seconds)}")
        back = recovery(calls, starts, resumed, end, threshold)
        goal(back is not None and back <= 5.0,
             f"{length:g} s pause: a 1 s window all OK with p99 <= {ms(threshold)} ms within 5 s of SIGCONT "
             f"({'never, in ' + format(end - resumed, '.0f') + ' s' if back is None else format(back, '.1f') + ' s'})")
        peaks = sampler.peaks(paused, resumed)
        first, second = sampler.peaks(paused, (paused + resumed) / 2), sampler.peaks((paused + resumed) / 2, resumed)
        if peaks and base_samples:
            print(f"    {length:g} s pause, peak vs before: RSS {peaks[0] // 1024} vs {base_samples[0] // 1024} MiB, "
                  f"fds {peaks[1]} vs {base_samples[1]}, sockets to PostgreSQL {peaks[2]} vs {base_samples[2]}"
                  + (f"; 1st/2nd half RSS {first[0] // 1024}/{second[0] // 1024} MiB, fds {first[1]}/{second[1]}"
                     if first and second else ""))
        if length == max(args.pauses) and first and second:
            # Bounded work in flight: whatever piles up early in a long pause must stop growing
            # (allowing 8 MiB and 4 fds of noise between the halves).
            grew = second[0] - first[0] > 8 * 1024 or second[1] - first[1] > 4
            goal(not grew, f"{length:g} s pause: RSS and fds stop growing (2nd half vs 1st: "
                 f"{(second[0] - first[0]) / 1024:+.1f} MiB of +8 allowed, {second[1] - first[1]:+d} fds of +4)")
    health = {"before": [], "paused": []}
    for started, ended, code in probe.results:
        if started < timeline["pauses"][0][1]:
            health["before"].append((ended - started, code))
        elif any(p <= started < r for _, p, r, _ in timeline["pauses"]):
            health["paused"].append((ended - started, code))
    paused_health = health["paused"]
    health_p99 = percentile([d for d, _ in paused_health], 0.99)
    unhealthy = collections.Counter(code for _, code in paused_health if code != "OK")
    print(f"    health checks: before p99 {ms(percentile([d for d, _ in health['before']], 0.99))} ms; "
          f"paused {len(paused_health)} probes, p99 {ms(health_p99)} ms, "
          f"max {ms(max((d for d, _ in paused_health), default=float('nan')))} ms"
          + (f", {dict(unhealthy)}" if unhealthy else ""))
    goal(bool(paused_health) and not unhealthy and health_p99 <= 0.1,
         f"health checks SERVING with p99 <= 100 ms while paused ({ms(health_p99)} ms)")

    # 2. Connections dropped, then restarted.
    dropped = phases.get("drops+restart", [])
    print(f"  connections dropped every 2 s for {args.drop_for:g} s ({len(timeline['drops'])} times, "
          f"{sum(n for _, _, n in timeline['drops'])} backends terminated), then a fast restart "
          f"({timeline['restart'][1] - timeline['restart'][0]:.1f} s down)")
    print(f"    {len(dropped)} RPCs: {status_counts(dropped)}")
    wrong = collections.Counter(c.code for c in dropped if c.code != "OK" and c.code not in RETRYABLE)
    samples = {}
    for c in dropped:
        if c.code in wrong:
            samples.setdefault(c.code, c.detail)
    for code, detail in samples.items():
        print(f"      e.g. {code}: {detail[:100]}")
    goal(not wrong, "dropped connections: failures are UNAVAILABLE, DEADLINE_EXCEEDED or ABORTED only"
         + (f" (also {', '.join(f'{k} {v}' for k, v in wrong.items())})" if wrong else ""))
    waits, lost = [], []
    drop_times = [asked for asked, _, _ in timeline["drops"]] + [timeline["restart"][0]]
    for (asked, done, _), following in zip(timeline["drops"], drop_times[1:]):
        waits.append(next_success(calls, starts, done))
        lost.append(sum(1 for c in dropped if asked <= c.end < following and c.code != "OK"))
    known = [w for w in waits if w is not None]
    after_restart = next_success(calls, starts, timeline["restart"][1])
    if known:
        print(f"    next success after a drop: p50 {ms(percentile(known, 0.5))} ms, max {ms(max(known))} ms; "
              f"failed RPCs per drop: mean {sum(lost) / len(lost):.1f}, max {max(lost)}")
    print(f"    next success after the restart: "
          f"{'none' if after_restart is None else ms(after_restart) + ' ms'} after PostgreSQL was up again")
    if waits:  # none with --drop-for 0
        goal(len(known) == len(waits) and max(known) <= 1.0,
             f"an RPC succeeds within 1 s of each drop (max {ms(max(known)) if known else '-'} ms"
             + (f"; after {len(waits) - len(known)} of {len(waits)} drops none did" if len(known) < len(waits) else "")
             + ")")
    goal(after_restart is not None and after_restart <= 1.0,
         f"an RPC succeeds within 1 s of the restart ({'never' if after_restart is None else ms(after_restart) + ' ms'})")

    # 3. Invariants and survival.
    gone = [f"{n} exited ({suite.processes[n].poll()})" for n in services
            if suite.processes[n].poll() is not None or suite.processes[n].pid != pids[n]]
    # Stopping to serve without exiting is worse than exiting: no supervisor restarts that.
    # The runtime logs "draining gRPC server" when it stops serving; before our SIGTERM it
    # means the service began to shut down by itself.
    for name in services:
        for stamp in log_times(suite, name, "draining gRPC server"):
            gone.append(f"{name} began shutting down by itself ({phase_at(stamp - timeline['wall'], timeline)})")
    goal(not gone, "no service process exited or began shutting down by itself"
         + (f": {'; '.join(gone)}" if gone else ""))
    check_answering(suite, services, workspaces, credential, goal)
    shut_down(suite, goal, patience=SHUTDOWN_PATIENCE)
    check_history(suite, calls, timeline, workspaces, goal)
    print_logs(suite, services)

    for passed, text in goals:
        print(f"  {'PASS' if passed else 'FAIL'} {text}")
    print(f"  logs: {suite.work}")
    return not all(passed for passed, _ in goals)


def phase_at(t, timeline):
    """Where in the run the instant `t` (monotonic) fell, for a log line."""
    if t >= timeline["end"]:
        return f"{t - timeline['end']:.0f} s after the load"
    if t >= timeline["restart"][1]:
        return f"{t - timeline['restart'][1]:.0f} s after PostgreSQL's restart"
    if t >= timeline["restart"][0]:
        return "during PostgreSQL's restart"
    if t >= timeline["drop_start"]:
        return f"{t - timeline['drop_start']:.0f} s into the drops"
    label = "before the first pause"
    for n, (_, paused, resumed, _) in enumerate(timeline["pauses"]):
        if t >= paused:
            label = f"in the {pause_name(timeline, n)} pause" if t < resumed else \
                f"{t - resumed:.0f} s after the {pause_name(timeline, n)} pause"
    return label


def log_times(suite, name, text):
    """The times (seconds since the epoch; whole seconds) of `name`'s log lines holding `text`."""
    times = []
    with open(os.path.join(suite.work, f"{name}.log"), errors="replace") as f:
        for line in f:
            if text in line:
                try:
                    times.append(datetime.datetime.strptime(line.split(" ", 1)[0], "%Y-%m-%dT%H:%M:%S%z").timestamp())
                except ValueError:
                    pass
    return times


def check_history(suite, calls, timeline, workspaces, goal):
    """workspace_status_changes must be one unbroken chain per workspace (each change starts
    where the one before ended; the last ends at the workspace's status) with no request applied
    twice, and, as repeating a status is a no-op, hold no change from a status to itself. Also
    prints the writes committed for calls their caller was told had failed."""
    database = suite.database(CONSOLE)
    rows = suite.psql(database, """
        SELECT workspace_id, from_status, to_status, request_id FROM workspace_status_changes
        ORDER BY workspace_id, id""")
    status = dict(suite.psql(database, "SELECT id, status FROM workspaces"))
    breaks, last, to_itself = [], {}, []
    for workspace, came_from, went_to, request_id in rows:
        if came_from != last.get(workspace, "active"):  # workspaces are created active
            breaks.append(f"{workspace}: a change from {came_from} after one to {last.get(workspace, 'active')}")
        if came_from == went_to:
            to_itself.append(request_id)
        last[workspace] = went_to
    breaks += [f"{w}: status {status.get(w)}, history ends at {last.get(w, 'active')}"
               for w in workspaces if status.get(w) != last.get(w, "active")]
    applied = collections.Counter(r[3] for r in rows)
    breaks += [f"request {r} applied {n} times" for r, n in applied.items() if n > 1]
    if len(status) != len(workspaces):
        breaks.append(f"{len(status)} workspaces, {len(workspaces)} created")

    writes = {c.request_id: c for c in calls if c.kind == "write"}
    behind = collections.Counter(f"{c.code} in {phase_of(c, timeline)}" for c in writes.values()
                                 if c.code != "OK" and c.request_id in applied)
    print(f"  history: {len(rows)} status changes from {len(writes)} writes "
          f"({sum(1 for c in writes.values() if c.code == 'OK')} OK); committed although the caller was told "
          f"it failed: {', '.join(f'{v} {k}' for k, v in behind.items()) or 'none'}")
    goal(not breaks, "status history: one unbroken chain per workspace, no request applied twice"
         + (f" ({len(breaks)} problems, e.g. {breaks[0]})" if breaks else ""))
    # A change to itself is written when two calls for one workspace overlap: both pass the
    # no-op check before either commits. Here that takes a call its caller abandoned at its
    # deadline still running on the server; the calls' codes show it.
    codes = collections.Counter(writes[r].code if r in writes else "?" for r in to_itself)
    goal(not to_itself, "repeating a status writes no change (none from a status to itself)"
         + (f" ({len(to_itself)} such changes; their calls: {', '.join(f'{k} {v}' for k, v in codes.items())})"
            if to_itself else ""))


def check_answering(suite, services, workspaces, credential, goal):
    """Every service answers: the gRPC ones their health check, the emulator (HTTP only) any
    HTTP request, the console its reads."""
    silent = []
    for name in services:
        if name == "marketplace-emulator":
            try:
                urllib.request.urlopen(f"{suite.emulator}/", timeout=5).close()
            except urllib.error.HTTPError:
                pass  # an HTTP answer, whatever its status
            except (urllib.error.URLError, OSError) as error:
                silent.append(f"{name}: {error}")
            continue
        with grpc.insecure_channel(suite.address(name)) as channel:
            check, request = RPC.unary(channel, HEALTH)
            try:
                check(request(service=""), timeout=5)
            except grpc.RpcError as error:
                silent.append(f"{name} health {error.code().name}")
    with grpc.insecure_channel(suite.address(CONSOLE)) as channel:
        lookup, request = RPC.unary(channel, f"{DIRECTORY}/LookupWorkspace")
        for workspace in workspaces:
            try:
                lookup(request(workspace_id=workspace), metadata=(("authorization", f"Bearer {credential}"),),
                       timeout=5)
            except grpc.RpcError as error:
                silent.append(f"LookupWorkspace {error.code().name}")
                break
    goal(not silent, "afterwards every service answers (health check; the emulator over HTTP) and the console "
         "its reads" + (f" ({'; '.join(silent)})" if silent else ""))


def stop_services(suite, patience):
    """SIGTERM to every running service at once, SIGKILL to any still running after `patience`
    (chaos.Suite.stop_all would wait 30 s for each); how long each took to exit, and the hung."""
    with suite.lock:
        processes = dict(suite.processes)
    running = {name: p for name, p in processes.items() if p.poll() is None}
    for process in running.values():
        process.send_signal(signal.SIGTERM)
    sent, took = now(), {}
    while len(took) < len(running) and now() < sent + patience:
        for name, process in running.items():
            if name not in took and process.poll() is not None:
                took[name] = now() - sent
        time.sleep(0.05)
    hung = [name for name in running if name not in took]
    for name in hung:
        # Where it waits, for the post-mortem: every thread's stack, beside the service's log.
        try:
            with open(os.path.join(suite.work, f"{name}.hung-stacks.txt"), "w") as out:
                pid = running[name].pid
                out.write(f"== sockets of {pid}\n" + "\n".join(
                    line for line in subprocess.run(["ss", "-tanp"], capture_output=True, text=True).stdout.splitlines()
                    if f"pid={pid}," in line) + "\n")
                out.flush()
                subprocess.run(["gdb", "-p", str(running[name].pid), "-batch", "-ex", "thread apply all bt"],
                               stdout=out, stderr=subprocess.STDOUT, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            pass
        running[name].kill()
        running[name].wait()
    return took, hung


def shut_down(suite, goal, patience):
    """The services must exit on SIGTERM even after the faults."""
    took, hung = stop_services(suite, patience)
    codes = {name: process.returncode for name, process in suite.processes.items()}
    print(f"  shutdown on SIGTERM: {', '.join(f'{n} {t:.1f} s (exit {codes.get(n)})' for n, t in took.items()) or 'none exited'}"
          + (f"; still running after {patience:g} s, killed: {', '.join(hung)}" if hung else ""))
    goal(not hung, f"every service exits within {patience:g} s of SIGTERM after the faults"
         + (f" (not: {', '.join(hung)})" if hung else ""))


def print_logs(suite, services):
    """The most frequent messages each service logged at warning level or above, each with the
    metadata of its first occurrence. An entry is `<time> <level> <service>: key=value ...
    [Module] message`, on one line or more (metadata such as SQL may span lines)."""
    for name in services:
        entries = []
        with open(os.path.join(suite.work, f"{name}.log"), errors="replace") as f:
            for line in f:
                if re.match(r"\d{4}-\d\d-\d\dT", line) or not entries:
                    entries.append(line.rstrip("\n"))
                else:
                    entries[-1] += " " + line.strip()
        counts, first = collections.Counter(), {}
        for entry in entries:
            parts = entry.split(" ", 3)
            if len(parts) < 4 or parts[1] not in ("warning", "error", "critical"):
                continue
            found = re.search(r"(?:^| )(\[\w+\] [^\[\]]*)$", parts[3])
            key = f"{parts[1]} {found.group(1) if found else parts[3][:60]}"
            counts[key] += 1
            first.setdefault(key, parts[3][: found.start()] if found else "")
        if counts:
            print(f"  {name} logged {sum(counts.values())} entries at warning or above:")
            for key, n in counts.most_common(3):
                print(f"    {n:>5}x {key[:90]}  ({first[key][:110]})")


if __name__ == "__main__":
    main()
