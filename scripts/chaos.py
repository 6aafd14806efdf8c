#!/usr/bin/env python3
"""The activation flow while services are killed at random, as a buyer at the page sees it.

    scripts/chaos [--seed N] [--purchases N] [--buyers N] [--kill-every MIN MAX] [--replicas N]

Starts the four services on a throwaway PostgreSQL (built binaries from `swift build`), then
buyers walk the flow over the public RPCs while a killer SIGKILLs a random service every MIN
to MAX seconds and starts it again at once. With --replicas N, each of the three services runs
N processes on one database, on ports of their own; every client (the other services, the
buyers' pages) is given all of them and spreads its calls round robin, and the killer picks
one process at a time. Two branches: a new purchaser registers
(RegisterAndActivate); a purchaser already linked buys again and creates a workspace with a
new Guance account (CreateWorkspace). A buyer sends the same call again after any answer that
says "retry" (UNAVAILABLE, DEADLINE_EXCEEDED) or none at all, and polls GetActivation until
ACTIVATED. Then, with the killer still at work, a day of usage (yesterday, one hour per
subscription) is recorded and closed at the billing center, whose metering records the gateway
sends to the marketplace, and the marketplace suspends half of the subscriptions (its webhook
to the gateway, which suspends the workspace at the console).
Reported: per activation the time from the first click to ACTIVATED (p50/p90/max),
the refusals buyers saw (any other error, which a repeated identical call must never get), how
soon a killed gateway's work was taken over, how long suspensions took to land, and the
exactly-once invariants counted at the emulator and in each service's database (every
metered hour at the marketplace once, each suspended workspace changed status once). Exits 1 when an invariant fails.
"""
import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import grpc
from google.protobuf import json_format

import grpc_call as RPC  # scripts/grpc_call.py, beside this script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "correct horse battery"
GATEWAY = "guance.gateway.v1.ActivationService"
RETRY = {"UNAVAILABLE", "DEADLINE_EXCEEDED"}
SERVICES = ["workspace-console", "billing-center", "marketplace-emulator", "marketplace-gateway"]


def call_until_answered(channel, method, request, metadata=(), on_retry=lambda: None):
    """The reply (a dict) of `request` to the unary `method`, sent again after an answer that
    says "retry" (UNAVAILABLE, DEADLINE_EXCEEDED) or none at all; any other error is raised."""
    stub, request_class = RPC.unary(channel, method)
    message = json_format.ParseDict(request, request_class())
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            reply = stub(message, timeout=15, wait_for_ready=True, metadata=metadata)
            return json_format.MessageToDict(reply, preserving_proto_field_name=True)
        except grpc.RpcError as error:
            if error.code().name not in RETRY:
                raise
            on_retry()
            time.sleep(0.2)
    raise RuntimeError(f"{method} never answered")


def round_robin(addresses):
    """A channel to every replica at `addresses` ("host:port,host:port"), as a load balancer."""
    return grpc.insecure_channel(f"ipv4:{addresses}", options=[("grpc.lb_policy_name", "round_robin")])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_of(instance):
    """"marketplace-gateway#2" → "marketplace-gateway": a replica runs its service's binary."""
    return instance.split("#")[0]


class Suite:
    """The four services on a private PostgreSQL, `replicas` processes of each but the emulator;
    any process can be killed and restarted."""

    def __init__(self, work, bin_dir, replicas=1):
        self.work, self.bin = work, bin_dir
        self.pg_port = free_port()
        self.server = f"postgres://postgres@127.0.0.1:{self.pg_port}"
        self.replicas = {name: [name] + [f"{name}#{i}" for i in range(2, replicas + 1)]
                         for name in SERVICES if name != "marketplace-emulator"}
        self.replicas["marketplace-emulator"] = ["marketplace-emulator"]
        self.instances = [i for name in SERVICES for i in self.replicas[name]]
        self.ports = {instance: free_port() for instance in self.instances}
        self.landings = {instance: free_port() for instance in self.replicas["marketplace-gateway"]}
        self.landing = self.landings["marketplace-gateway"]
        self.processes, self.lock = {}, threading.Lock()
        credential = self.credential = uuid.uuid4().hex
        emulator = f"http://127.0.0.1:{self.ports['marketplace-emulator']}"
        self.emulator = emulator
        common = {"INTERNAL_CREDENTIAL": credential, "MAILBOX_DIR": os.path.join(work, "mailbox"),
                  "EVENT_LOOP_THREADS": "1", "LOG_LEVEL": "notice"}
        self.env = {
            "workspace-console": {},
            "billing-center": {"CONSOLE_ADDRESS": self.address("workspace-console")},
            "marketplace-emulator": {
                "EMULATOR_PORT": str(self.ports["marketplace-emulator"]),
                "EMULATOR_LANDING_URL": f"http://127.0.0.1:{self.landing}/landing",
                "EMULATOR_WEBHOOK_URL": f"http://127.0.0.1:{self.landing}/webhook"},
            "marketplace-gateway": {
                "BILLING_ADDRESS": self.address("billing-center"), "CONSOLE_ADDRESS": self.address("workspace-console"),
                "MARKETPLACE_API_URL": f"{emulator}/api", "MARKETPLACE_LOGIN_URL": emulator,
                # A metering pass every second, so the day's records go while the killer works.
                "METERING_INTERVAL_SECONDS": "1"},
        }
        for name in SERVICES:
            self.env[name].update(common)
            self.env[name].update({
                "MARKETPLACE_TENANT_ID": "chaos-tenant", "MARKETPLACE_CLIENT_ID": "chaos-app",
                "MARKETPLACE_CLIENT_SECRET": "chaos-secret"})

    def address(self, name):
        """Every replica of service `name`, as its clients are given them."""
        return ",".join(f"127.0.0.1:{self.ports[i]}" for i in self.replicas[name])

    def database(self, name):
        return name.replace("-", "_")

    def start_all(self, names=SERVICES):
        """PostgreSQL, then `names` (all four unless told), each on its own new database, with
        all of its replicas."""
        subprocess.run([os.path.join(ROOT, "scripts/pg.sh"), "start", os.path.join(self.work, "pg"),
                        str(self.pg_port)], check=True, stdout=subprocess.DEVNULL)
        for name in names:
            self.psql("postgres", f'CREATE DATABASE "{self.database(name)}"')
            for instance in self.replicas[name]:
                self.start(instance)

    def start(self, instance):
        name = service_of(instance)
        ready = os.path.join(self.work, f"{instance}.ready")
        if os.path.exists(ready):
            os.remove(ready)
        env = dict(os.environ, **self.env[name], DATABASE_URL=f"{self.server}/{self.database(name)}",
                   GRPC_PORT=str(self.ports[instance]), READY_FILE=ready,
                   # A free operator port: replicas share the machine.
                   METRICS_PORT="0")
        if instance in self.landings:
            env["LANDING_PORT"] = str(self.landings[instance])
        log = open(os.path.join(self.work, f"{instance}.log"), "a")
        process = subprocess.Popen([os.path.join(self.bin, name)], env=env, stdout=log, stderr=log)
        with self.lock:
            self.processes[instance] = process
        return process

    def wait_ready(self, name, patience=120):
        ready = os.path.join(self.work, f"{name}.ready")
        deadline = time.time() + patience
        while time.time() < deadline:
            if os.path.exists(ready) and os.path.getsize(ready) > 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"{name} did not start (see {self.work}/{name}.log)")

    def kill(self, name):
        with self.lock:
            process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.start(name)

    def stop_all(self):
        with self.lock:
            for process in self.processes.values():
                process.send_signal(signal.SIGTERM)
            for process in self.processes.values():
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        subprocess.run([os.path.join(ROOT, "scripts/pg.sh"), "destroy", os.path.join(self.work, "pg")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def psql(self, database, sql):
        out = subprocess.run(["psql", f"{self.server}/{database}", "-tAc", sql], check=True,
                             capture_output=True, text=True).stdout
        return [line.split("|") for line in out.splitlines() if line]


class Buyer:
    """One purchase walked to ACTIVATED the way a page would, counting what the buyer saw."""

    def __init__(self, suite, channel, branch, purchaser=None):
        self.suite, self.channel, self.branch = suite, channel, branch
        self.purchaser = purchaser or str(uuid.uuid4())
        self.name = "chaos" + uuid.uuid4().hex[:10]
        self.retries, self.refusals, self.subscription = 0, [], None
        self.started = self.activated = None

    def call(self, method, request):
        """The reply of the same call sent until it answers, or a refusal (recorded, raised)."""
        def retried():
            self.retries += 1
        try:
            return call_until_answered(self.channel, f"{GATEWAY}/{method}", request, on_retry=retried)
        except grpc.RpcError as error:
            self.refusals.append(f"{method}: {error.code().name}: {error.details()}")
            raise

    def http(self, method, url, body=None):
        for _ in range(600):
            try:
                request = urllib.request.Request(url, data=json.dumps(body).encode() if body else None, method=method)
                with urllib.request.urlopen(request, timeout=15) as reply:
                    return json.loads(reply.read() or b"{}")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise RuntimeError(f"{url} never answered")

    def walk(self):
        purchaser = {"emailId": f"{self.name}@chaos.example", "objectId": self.purchaser, "tenantId": "chaos",
                     "puid": ""}
        bought = self.http("POST", f"{self.suite.emulator}/admin/purchases", {"purchaser": purchaser})
        self.subscription = bought["subscriptionId"]
        session = self.call("ResolveActivation", {"marketplace_token": bought["token"]})["activation"]["session_id"]
        workspace = {"name": f"{self.name} ops", "language": "en", "site": "us1"}
        account = {"username": self.name, "password": PASSWORD, "password_confirmation": PASSWORD,
                   "email": f"{self.name}@chaos.example"}
        self.started = time.time()
        if self.branch == "register":
            state = self.call("RegisterAndActivate", {
                "session_id": session, "basic": account, "workspace": workspace, "terms_accepted": True,
                "company": {"company_name": "Chaos Ltd", "industry": "Software", "region": "EU",
                            "contact_name": "Ada"}})["activation"]["state"]
        else:
            state = self.call("CreateWorkspace", {
                "session_id": session, "workspace": workspace, "new_account": account,
                "terms_accepted": True})["activation"]["state"]
        while state != "ACTIVATION_STATE_ACTIVATED":
            if time.time() - self.started > 600:
                raise RuntimeError(f"{self.subscription} not activated after 600 s (state {state})")
            time.sleep(0.25)
            state = self.call("GetActivation", {"session_id": session})["activation"]["state"]
        self.activated = time.time()


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--purchases", type=int, default=60)
    parser.add_argument("--buyers", type=int, default=6, help="buyers at their pages at once")
    parser.add_argument("--kill-every", type=float, nargs=2, default=(0.2, 2.0), metavar=("MIN", "MAX"))
    parser.add_argument("--replicas", type=int, default=1, help="processes of each service but the emulator")
    parser.add_argument("--bin", default=None, help="the built executables (default: swift build --show-bin-path)")
    args = parser.parse_args()

    RPC.load_protos()

    bin_dir = args.bin or subprocess.run(["swift", "build", "--show-bin-path"], cwd=ROOT, check=True,
                                         capture_output=True, text=True).stdout.strip()
    work = os.path.join(ROOT, ".run", f"chaos-{args.seed}-{int(time.time())}")
    os.makedirs(work)
    suite = Suite(work, bin_dir, args.replicas)
    rng = random.Random(args.seed)
    kills, stop = [], threading.Event()
    try:
        suite.start_all()
        for instance in suite.instances:
            suite.wait_ready(instance)
        # As a page behind a load balancer: every gateway replica, round robin.
        channel = round_robin(suite.address("marketplace-gateway"))

        def killer():
            while not stop.wait(rng.uniform(*args.kill_every)):
                instance = rng.choice(suite.instances)
                kills.append((time.time(), instance))
                suite.kill(instance)

        # Half register as new purchasers; the rest buy again as one of those, once activated.
        plan = ["register" if i % 2 == 0 else "create" for i in range(args.purchases)]
        rng.shuffle(plan)
        buyers, linked, lock = [], [], threading.Condition()
        failures = []

        def walk(branch):
            purchaser = None
            if branch == "create":
                with lock:
                    lock.wait_for(lambda: linked, timeout=600)
                    purchaser = rng.choice(linked) if linked else None
                if purchaser is None:
                    branch = "register"
            buyer = Buyer(suite, channel, branch, purchaser)
            buyers.append(buyer)
            try:
                buyer.walk()
                if branch == "register":
                    with lock:
                        linked.append(buyer.purchaser)
                        lock.notify_all()
            except Exception as error:  # a refusal or a buyer who never got there
                failures.append(f"{buyer.subscription}: {error}")

        threading.Thread(target=killer, daemon=True).start()
        started = time.time()
        pending = list(plan)
        threads = []
        while pending or threads:
            threads = [t for t in threads if t.is_alive()]
            while pending and len(threads) < args.buyers:
                thread = threading.Thread(target=walk, args=(pending.pop(),))
                thread.start()
                threads.append(thread)
            time.sleep(0.05)
        metering = meter_a_day(suite, buyers, failures)
        suspensions = suspend_half(suite, buyers, rng, failures)
        stop.set()
        elapsed = time.time() - started
        time.sleep(3)
        for instance in suite.instances:
            suite.wait_ready(instance)

        report(suite, buyers, kills, failures, elapsed, args, suspensions, metering)
    finally:
        stop.set()
        suite.stop_all()


def suspend_half(suite, buyers, rng, failures):
    """The marketplace suspends half of the activated subscriptions, one by one, as the killer
    goes on; returns {subscription: (workspace, seconds until the console showed it)}."""
    done = [b for b in buyers if b.activated]
    chosen = rng.sample(done, len(done) // 2)
    workspaces = dict(suite.psql("marketplace_gateway", "SELECT subscription_id, workspace_id FROM activation_sagas"))
    landed = {}
    for buyer in chosen:
        started = time.time()
        if not marketplace_event(suite, buyer.subscription, "Suspend", failures):
            continue
        workspace = workspaces.get(buyer.subscription)
        while workspace and time.time() - started < 300:
            status = suite.psql("workspace_console", f"SELECT status FROM workspaces WHERE id = '{workspace}'")
            if status and status[0][0] == "suspended":
                landed[buyer.subscription] = (workspace, time.time() - started)
                break
            time.sleep(0.2)
        else:
            failures.append(f"{buyer.subscription}: not suspended 300 s after the marketplace's Suspend")
    return landed


def marketplace_event(suite, subscription, action, failures):
    """Starts `action` at the emulator, sent again while it does not answer (it may be the
    process just killed). A refusal after an unanswered attempt means that attempt took."""
    url = f"{suite.emulator}/admin/subscriptions/{subscription}/events"
    unanswered = False
    for _ in range(600):
        try:
            request = urllib.request.Request(url, data=json.dumps({"action": action}).encode(), method="POST")
            with urllib.request.urlopen(request, timeout=15):
                return True
        except urllib.error.HTTPError as error:
            if unanswered:
                return True
            failures.append(f"{subscription}: the emulator refused {action}: {error.code}")
            return False
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            unanswered = True
            time.sleep(0.2)
    failures.append(f"{subscription}: the emulator never answered {action}")
    return False


def internal_call(suite, channel, method, request, failures):
    """`request` to an internal `method` with the internal credential, until it answers; a
    refusal is recorded among `failures` (None returned)."""
    try:
        return call_until_answered(channel, method, request,
                                   metadata=[("authorization", f"Bearer {suite.credential}")])
    except (grpc.RpcError, RuntimeError) as error:
        failures.append(f"{method}: {error}")
        return None


def meter_a_day(suite, buyers, failures):
    """Yesterday's usage of every activated subscription (one hour each), recorded and closed
    at the billing center; waits until the gateway has sent every metering record. Returns
    (records, seconds until the last was delivered)."""
    billing = "guance.billing.v1.BillingInternalService"
    workspaces = [w for s, w in suite.psql("marketplace_gateway", "SELECT subscription_id, workspace_id FROM activation_sagas")
                  if s in {b.subscription for b in buyers if b.activated}]
    # Their settlements began minutes ago: moved back so that they cover yesterday.
    suite.psql("billing_center", "UPDATE workspace_bindings SET valid_from = valid_from - interval '3 days'")
    today = int(time.time()) // 86400 * 86400
    noon = today - 86400 + 12 * 3600
    day = time.strftime("%Y-%m-%d", time.gmtime(noon))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(noon))
    events = [{"idempotency_key": f"{w}/log_events/chaos", "workspace_id": w, "billing_item": "log_events",
               "quantity": "1500000", "usage_time": stamp} for w in workspaces]
    started = time.time()
    channel = round_robin(suite.address("billing-center"))
    if internal_call(suite, channel, f"{billing}/RecordUsage", {"events": events}, failures) is None:
        return None
    if internal_call(suite, channel, f"{billing}/CloseDay", {"day": day}, failures) is None:
        return None
    records = int(suite.psql("billing_center", f"SELECT count(*) FROM metering_records WHERE day = '{day}'")[0][0])
    while time.time() - started < 300:
        pending = int(suite.psql("billing_center",
                                 f"SELECT count(*) FROM metering_records WHERE day = '{day}' AND status = 'pending'")[0][0])
        if pending == 0:
            return day, records, time.time() - started
        time.sleep(0.5)
    failures.append(f"metering records of {day} still pending after 300 s")
    return None


def report(suite, buyers, kills, failures, elapsed, args, suspensions, metering):
    done = [b for b in buyers if b.activated]
    times = [b.activated - b.started for b in done]
    refusals = [r for b in buyers for r in b.refusals]
    print(f"chaos: seed {args.seed}, {len(buyers)} purchases by {args.buyers} buyers at once, "
          f"{args.replicas} replica(s) of each service but the emulator, {len(kills)} kills in {elapsed:.0f} s "
          f"({', '.join(f'{n} {sum(1 for _, k in kills if k == n)}' for n in suite.instances)})")
    if times:
        print(f"  first click to ACTIVATED: p50 {percentile(times, 0.5):.1f} s, p90 {percentile(times, 0.9):.1f} s, "
              f"max {max(times):.1f} s")
    print(f"  retries sent after UNAVAILABLE/DEADLINE_EXCEEDED: {sum(b.retries for b in buyers)}")
    print(f"  refusals buyers saw: {len(refusals)}")
    for refusal in refusals[:10]:
        print(f"    {refusal}")

    # Takeover: a saga in flight when its gateway was killed (its last audit row before the kill
    # is a step under way, not a finish or a scheduled retry), and the reconciler's first row
    # for it after the kill.
    gateway_kills = sorted(t for t, name in kills if service_of(name) == "marketplace-gateway")
    rows = suite.psql("marketplace_gateway", """
        SELECT subscription_id, event, correlation_id, extract(epoch FROM at) FROM subscription_audit
        ORDER BY subscription_id, at, id""")
    trail = {}
    for subscription, event, correlation, at in rows:
        trail.setdefault(subscription, []).append((event, correlation, float(at)))
    under_way = {"activation_started", "workspace_settled", "activate_requested"}
    takeovers = []
    for events in trail.values():
        for kill in gateway_kills:
            before = [e for e in events if e[2] <= kill]
            after = [e for e in events if e[2] > kill]
            if before and before[-1][0] in under_way and after and after[0][1].startswith("reconciler/"):
                takeovers.append(after[0][2] - kill)
    if takeovers:
        print(f"  sagas in flight when their gateway was killed: {len(takeovers)}, taken over "
              f"p50 {percentile(takeovers, 0.5):.1f} s, max {max(takeovers):.1f} s after the kill")
    finished = sum(1 for events in trail.values() for e in events
                   if e[0] == "workspace_created" and e[1].startswith("reconciler/"))
    print(f"  workspace creations whose call died, finished in the background: {finished}")

    problems = list(failures)
    subscriptions = [b.subscription for b in done]
    for b in buyers:
        if not b.activated:
            problems.append(f"{b.subscription}: never activated")
    counts = dict(suite.psql("marketplace_emulator",
                             "SELECT subscription_id, count(*) FROM activations GROUP BY subscription_id"))
    for s in subscriptions:
        if counts.get(s) != "1":
            problems.append(f"{s}: Activate accepted {counts.get(s, 0)} times at the marketplace")
    registered = [b.name for b in buyers if b.branch == "register"]
    accounts = suite.psql("billing_center", "SELECT count(*) FROM billing_accounts")[0][0]
    if int(accounts) != len(registered):
        problems.append(f"{accounts} billing center accounts for {len(registered)} registrations")
    workspaces = int(suite.psql("workspace_console", "SELECT count(*) FROM workspaces")[0][0])
    if workspaces != len(buyers):
        problems.append(f"{workspaces} workspaces for {len(buyers)} purchases")
    unfinished = suite.psql("marketplace_gateway", "SELECT subscription_id, step FROM activation_sagas WHERE step <> 'activated'")
    claims = suite.psql("marketplace_gateway", "SELECT subscription_id FROM workspace_creation_claims")
    problems += [f"{s}: saga left at {step}" for s, step in unfinished]
    problems += [f"{s}: workspace creation still claimed" for (s,) in claims]
    # Each workspace pays through its own subscription, and only once.
    paid = int(suite.psql("billing_center", """
        SELECT count(DISTINCT marketplace_subscription_id) FROM workspace_bindings
        WHERE valid_to IS NULL AND settlement = 'cloud_account'""")[0][0])
    if paid != len(subscriptions):
        problems.append(f"{paid} subscriptions paying for a workspace, {len(subscriptions)} activated")
    # Every metered hour reached the marketplace once: one usage event per record, and the
    # records the marketplace answered Duplicate (sent again after a kill) are counted.
    if metering:
        day, records, seconds = metering
        statuses = dict(suite.psql("billing_center",
                                   f"SELECT status, count(*) FROM metering_records WHERE day = '{day}' GROUP BY status"))
        # The marketplace keeps one event per subscription, dimension and hour (a constraint):
        # its rows are the hours it billed.
        at_marketplace = int(suite.psql("marketplace_emulator", "SELECT count(*) FROM usage_events")[0][0])
        if records != len(subscriptions) or at_marketplace != records or statuses.get("rejected"):
            problems.append(f"{records} metering records for {len(subscriptions)} subscriptions, "
                            f"{at_marketplace} usage events at the marketplace, statuses {statuses}")
        print(f"  a day of usage: {records} metering records, all delivered {seconds:.1f} s after the close; "
              f"{at_marketplace} usage events at the marketplace ({statuses.get('accepted', 0)} accepted, "
              f"{statuses.get('duplicate', 0)} sent again and answered Duplicate)")
    # Each suspension changed its workspace's status once, however often it was delivered.
    changes = dict(suite.psql("workspace_console", """
        SELECT workspace_id, count(*) FROM workspace_status_changes WHERE to_status = 'suspended'
        GROUP BY workspace_id"""))
    for subscription, (workspace, _) in suspensions.items():
        if changes.get(workspace) != "1":
            problems.append(f"{subscription}: its workspace was suspended {changes.get(workspace, 0)} times")
    if suspensions:
        waits = [seconds for _, seconds in suspensions.values()]
        print(f"  suspensions from the marketplace: {len(suspensions)}, at the console after p50 "
              f"{percentile(waits, 0.5):.1f} s, max {max(waits):.1f} s; each workspace suspended once: "
              f"{'yes' if not any('suspended' in p and 'times' in p for p in problems) else 'NO'}")
    print(f"  exactly once: {len(subscriptions)} activations, each Activate accepted once: "
          f"{'yes' if not any('Activate' in p for p in problems) else 'NO'}; "
          f"{accounts} billing accounts, {workspaces} workspaces, {len(unfinished)} sagas and {len(claims)} "
          f"creations left unfinished")
    for problem in problems[:20]:
        print(f"  FAIL {problem}")
    print(f"  logs: {suite.work}")
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
