#!/usr/bin/env python3
"""The activation flow while services are killed at random, as a buyer at the page sees it.

    scripts/chaos [--seed N] [--purchases N] [--buyers N] [--kill-every MIN MAX]
                  [--terminate-every MIN MAX | --no-terminations] [--replicas N]

Starts the four services on a throwaway PostgreSQL (built binaries from `swift build`), then
buyers walk the flow over the public RPCs while a killer SIGKILLs a random service every MIN
to MAX seconds and starts it again at once, and, every --terminate-every MIN to MAX seconds,
PostgreSQL ends about half of the services' sessions (pg_terminate_backend). With --replicas N,
each of the three services runs N processes on one database, on ports of their own; every
client (the other services, the buyers' pages) is given all of them and spreads its calls round
robin, and the killer picks one process at a time.

Every branch of the flow (Buyer says what each is): a new purchaser registers; a new purchaser
binds an existing billing center account with the code mailed to it; a linked purchaser buys
again and creates the workspace with a new Guance account, or with an existing one proven by a
mailed code, or binds a workspace its account already pays for; on a site chosen at random.
Codes are read from the development mailbox. A buyer sends the same call again after any answer
that says "retry" (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED) or none at all, waits out "a code was sent
moments ago" as the page tells it to, and polls GetActivation until ACTIVATED. Then, with the
killer still at work, a day of usage (yesterday, one hour per subscription) is recorded and
closed at the billing center, whose metering records the gateway sends to the marketplace, and
the marketplace suspends half of the subscriptions, reinstates half of those and unsubscribes a
tenth of the others (its webhook to the gateway, which changes the workspace at the console).

Reported: kills and ended sessions; per branch, activations; per activation the time from the
first click to ACTIVATED (p50/p90/max); the refusals buyers saw (any other error, which a
repeated identical call must never get); how soon a killed gateway's work was taken over; how
long the marketplace's changes took to land; and the exactly-once invariants counted at the
emulator and in each service's database: every purchase ACTIVATED and Activate accepted once
for it; one billing center account per registration, one Guance account per buyer who made
one, one workspace per purchase, owned by whom its branch says and, for a bound one, the very
workspace offered; a bound purchaser linked to the account whose code it typed; one settlement
per subscription; every metered hour at the marketplace once; each workspace's status history
exactly the changes the marketplace made; nothing left pending. Exits 1 when an invariant fails.
"""
import argparse
import concurrent.futures
import contextlib
import json
import os
import random
import re
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
# RESOURCE_EXHAUSTED: a service's overload refusal ("retry shortly", OVERLOADED), as the
# gateway answers registrations beyond those it takes at once.
RETRY = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"}
SITES = ["us1", "eu1", "ap1", "cn1"]
# How often each branch of the flow is walked (Buyer says what each is).
BRANCH_WEIGHTS = {"register": 30, "bind": 20, "create": 15, "existing": 15, "bind-workspace": 20}
SERVICES = ["workspace-console", "billing-center", "marketplace-emulator", "marketplace-gateway"]


def call_until_answered(channel, method, request, metadata=(), on_retry=lambda: None):
    """The reply (a dict) of `request` to the unary `method`, sent again after an answer that
    says "retry" (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED) or none at all; any other
    error is raised."""
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
        self.mailbox = os.path.join(work, "mailbox")
        os.makedirs(self.mailbox)
        common = {"INTERNAL_CREDENTIAL": credential, "MAILBOX_DIR": self.mailbox,
                  "EVENT_LOOP_THREADS": "1", "LOG_LEVEL": "notice"}
        # The usage calendar of the billing center, the gateway and the emulator reads noon (UTC)
        # of today, whatever the hour: the metered day is yesterday, and between 23:00 and
        # midnight no finished day's last hour is within the marketplace's 24 hours.
        now = int(time.time())
        self.usage_offset = now // 86400 * 86400 + 12 * 3600 - now
        usage_clock = {"USAGE_CLOCK_OFFSET_SECONDS": str(self.usage_offset)}
        self.env = {
            "workspace-console": {},
            # No grace after midnight before a day may close: the metered day is yesterday, and a
            # run in the first hour of a day (UTC) would otherwise be refused its CloseDay.
            "billing-center": {"CONSOLE_ADDRESS": self.address("workspace-console"),
                               "BILL_CLOSING_GRACE_SECONDS": "0"},
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
            if name != "workspace-console":
                self.env[name].update(usage_clock)
            self.env[name].update({
                "MARKETPLACE_TENANT_ID": "chaos-tenant", "MARKETPLACE_CLIENT_ID": "chaos-app",
                "MARKETPLACE_CLIENT_SECRET": "chaos-secret"})
        # One round-robin channel to each gRPC service's replicas, as pages and internal callers
        # behind a load balancer (grpc connects when first called).
        self.channels = {name: round_robin(self.address(name)) for name in SERVICES
                         if name != "marketplace-emulator"}

    def mailed_codes(self, address, subject, since):
        """The 6-digit codes mailed to `address` under a subject starting `subject` since `since`
        (epoch seconds), newest first: the development mailbox names each file by its time."""
        codes = []
        for name in sorted(os.listdir(self.mailbox), reverse=True):
            if not name.endswith(".eml") or int(name.split("-")[0]) < since * 1000:
                continue
            with open(os.path.join(self.mailbox, name), encoding="utf-8") as mail:
                head, _, body = mail.read().partition("\n\n")  # text mode reads each CRLF as a newline
            lines = head.splitlines()
            if f"To: {address}" in lines and any(l.startswith(f"Subject: {subject}") for l in lines):
                found = re.search(r"\b[0-9]{6}\b", body)
                if found and found.group(0) not in codes:
                    codes.append(found.group(0))
        return codes

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


def new_account(name):
    """The basic information of a new account called `name` (billing center or Guance)."""
    return {"username": name, "password": PASSWORD, "password_confirmation": PASSWORD,
            "email": f"{name}@chaos.example"}


def registration(session, name, site):
    """A RegisterAndActivate request: a new purchaser registers as `name`, on `site`."""
    return {"session_id": session, "basic": new_account(name), "terms_accepted": True,
            "company": {"company_name": "Chaos Ltd", "industry": "Software", "region": "EU", "contact_name": "Ada"},
            "workspace": {"name": f"{name} ops", "language": "en", "site": site}}


def reason_of(error):
    """The ErrorInfo reason of a refusal, or ""."""
    from google.rpc import error_details_pb2, status_pb2
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason
    return ""


class Account:
    """A registered buyer's accounts (billing center and Guance, one name), lent to at most one
    emailed-code walk of each kind so that two buyers never wait on one address's resend limit."""

    def __init__(self, name, purchaser):
        self.name, self.purchaser = name, purchaser
        self.email = f"{name}@chaos.example"


class Buyer:
    """One purchase walked to ACTIVATED the way a page would, counting what the buyer saw.

    Branches (PRODUCT.md): `register` (a new purchaser registers), `bind` (a new purchaser binds
    an existing billing center account by the code mailed to it, then registers a Guance account
    for the workspace), `create` (a linked purchaser buys again and registers a Guance account),
    `existing` (a linked purchaser creates the workspace with an existing Guance account, proven
    by a mailed code) and `bind-workspace` (a linked purchaser binds a workspace its billing
    center account already pays for, made beforehand in the console). The site is chosen at
    random."""

    def __init__(self, suite, channel, branch, account=None, site="us1"):
        self.suite, self.channel, self.branch, self.account, self.site = suite, channel, branch, account, site
        self.purchaser = account.purchaser if account and branch != "bind" else str(uuid.uuid4())
        self.name = "chaos" + uuid.uuid4().hex[:10]
        self.retries, self.reloads, self.refusals, self.subscription = 0, 0, [], None
        self.codes_sent = self.codes_tried = 0
        self.started = self.activated = None
        self.workspace = None  # the workspace bound by bind-workspace, or created by existing

    def call(self, method, request, service=GATEWAY, channel=None, token=None):
        """The reply of the same call sent until it answers, or a refusal (recorded, raised)."""
        def retried():
            self.retries += 1
        metadata = [("authorization", f"Bearer {token}")] if token else []
        try:
            return call_until_answered(channel or self.channel, f"{service}/{method}", request, metadata=metadata,
                                       on_retry=retried)
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

    def new_account(self):
        return new_account(self.name)

    def purchase(self):
        """A new purchase at the marketplace, by this buyer's purchaser, resolved at the gateway:
        its activation session's id (the subscription's id kept)."""
        purchaser = {"emailId": f"{self.name}@chaos.example", "objectId": self.purchaser, "tenantId": "chaos",
                     "puid": ""}
        bought = self.http("POST", f"{self.suite.emulator}/admin/purchases", {"purchaser": purchaser})
        self.subscription = bought["subscriptionId"]
        return self.call("ResolveActivation", {"marketplace_token": bought["token"]})["activation"]["session_id"]

    def walk(self):
        if self.branch == "bind-workspace":
            self.workspace = self.prepare_bindable_workspace()
        session = self.purchase()
        workspace = {"name": f"{self.name} ops", "language": "en", "site": self.site}
        self.started = time.time()
        if self.branch == "register":
            state = self.workspace_step(session, lambda: self.call(
                "RegisterAndActivate", registration(session, self.name, self.site)))
        elif self.branch in ("create", "bind"):
            if self.branch == "bind":
                self.emailed_code(
                    self.account.email, "Bind your cloud account",
                    ask=lambda: self.call("StartBillingAccountBinding",
                                          {"session_id": session, "billing_username": self.account.name}),
                    redeem=lambda code, _: self.call("ConfirmBillingAccountBinding",
                                                     {"session_id": session, "code": code}))
            state = self.workspace_step(session, lambda: self.call("CreateWorkspace", {
                "session_id": session, "workspace": workspace, "new_account": self.new_account(),
                "terms_accepted": True}))
        elif self.branch == "existing":
            reply = self.emailed_code(
                self.account.email, "Your Guance verification code",
                ask=lambda: self.call("SendWorkspaceEmailCode", {"session_id": session, "email": self.account.email}),
                redeem=lambda code, sent: self.call("CreateWorkspace", {
                    "session_id": session, "workspace": workspace, "terms_accepted": True,
                    "existing_account": {"email": self.account.email, "challenge_id": sent["challenge_id"],
                                         "code": code}}),
                needs_answer=True)
            state = reply["activation"]["state"]
        else:
            offered = self.call("ListBindableWorkspaces", {"session_id": session}).get("workspaces", [])
            if self.workspace not in [w["workspace_id"] for w in offered]:
                raise RuntimeError(f"the workspace made for it is not offered: {offered}")
            state = self.call("BindWorkspace", {"session_id": session, "workspace_id": self.workspace})[
                "activation"]["state"]
        while state != "ACTIVATION_STATE_ACTIVATED":
            if time.time() - self.started > 600:
                raise RuntimeError(f"{self.subscription} not activated after 600 s (state {state})")
            time.sleep(0.25)
            state = self.call("GetActivation", {"session_id": session})["activation"]["state"]
        self.activated = time.time()

    def workspace_step(self, session, step):
        """The activation's state after `step`, a call that creates the workspace. Refused because
        an earlier attempt whose answer was lost is still creating it (WORKSPACE_BEING_CREATED),
        the buyer does what the refusal says: reloads the activation and, unless that attempt
        carried it on to ACTIVATING or beyond, sends the step again once it has ended."""
        while True:
            try:
                return step()["activation"]["state"]
            except grpc.RpcError as error:
                if reason_of(error) != "WORKSPACE_BEING_CREATED" or time.time() - self.started > 600:
                    raise
                self.refusals.pop()
                self.reloads += 1
            time.sleep(0.5)
            state = self.call("GetActivation", {"session_id": session})["activation"]["state"]
            if state not in ("ACTIVATION_STATE_NEEDS_BILLING_ACCOUNT", "ACTIVATION_STATE_NEEDS_WORKSPACE"):
                return state

    def prepare_bindable_workspace(self):
        """A workspace made in the console by a new Guance account and bound, by the billing center
        account's own user, to be paid by that account: what ListBindableWorkspaces offers."""
        console, billing = "guance.console.v1.WorkspaceConsoleService", "guance.billing.v1.BillingCenterService"
        made = self.call("RegisterAndCreateWorkspace", {
            "workspace_name": f"{self.name} own", "language": "zh", "site": self.site, "terms_accepted": True,
            "creation_key": self.name, **{k: v for k, v in self.new_account().items()}},
            service=console, channel=self.suite.channels["workspace-console"])
        owner = self.call("Login", {"login": self.name, "password": PASSWORD}, service=console,
                          channel=self.suite.channels["workspace-console"])["session_token"]
        payer = self.call("Login", {"login": self.account.name, "password": PASSWORD}, service=billing,
                          channel=self.suite.channels["billing-center"])["session_token"]
        workspace = made["workspace"]["id"]
        self.call("BindWorkspace", {"workspace_id": workspace, "workspace_owner_session": owner,
                                    "settlement": {"method": "SETTLEMENT_METHOD_BILLING_ACCOUNT"}},
                  service=billing, channel=self.suite.channels["billing-center"], token=payer)
        return workspace

    def emailed_code(self, address, subject, ask, redeem, needs_answer=False):
        """A step proven by a mailed code, as a buyer does it: ask for the code, read the mailbox,
        type in the newest code not yet tried. A lost answer may leave a code asked for that the
        buyer cannot use (its challenge unknown), and the next ask is refused as too soon: the
        buyer then waits out the resend interval, as the page tells it to. `needs_answer`: a code
        is typed in only with the answer of the ask that sent it (it names the challenge). The
        reply of the redeeming call is returned."""
        since, tried = time.time() - 1, set()
        for _ in range(8):
            try:
                sent = ask()
                self.codes_sent += 1
            except grpc.RpcError as error:
                if reason_of(error) != "CODE_RESEND_TOO_SOON":
                    raise
                self.refusals.pop()  # a page's "wait a minute", after a lost answer; not a failure
                sent = None
            wait_until = time.time() + 75
            while time.time() < wait_until:
                for code in self.suite.mailed_codes(address, subject, since):
                    if code in tried or (sent is None and needs_answer):
                        continue
                    tried.add(code)
                    self.codes_tried += 1
                    try:
                        return redeem(code, sent)
                    except grpc.RpcError as error:
                        # An older code, or one whose challenge a lost answer replaced.
                        if reason_of(error) not in ("WRONG_CODE", "CODE_ALREADY_USED") and \
                                error.code().name not in ("NOT_FOUND", "FAILED_PRECONDITION"):
                            raise
                        self.refusals.pop()
                time.sleep(0.3)
        raise RuntimeError(f"no mailed code to {address} worked")


def built_and_folder(bin_dir, name):
    """The built executables (`bin_dir`, or `swift build`'s debug ones) and a new folder under
    .run for this run's logs and database, named `name` and the time."""
    bin_dir = bin_dir or subprocess.run(["swift", "build", "--show-bin-path"], cwd=ROOT, check=True,
                                        capture_output=True, text=True).stdout.strip()
    work = os.path.join(ROOT, ".run", f"{name}-{int(time.time())}")
    os.makedirs(work)
    return bin_dir, work


@contextlib.contextmanager
def console_alone(work, bin_dir):
    """workspace-console alone on a private PostgreSQL, with its own event loops (one per core,
    not the one the chaos run gives every process): its gRPC address once ready; stopped, and
    the cluster destroyed, on the way out."""
    suite = Suite(work, bin_dir)
    del suite.env["workspace-console"]["EVENT_LOOP_THREADS"]
    try:
        suite.start_all(names=["workspace-console"])
        suite.wait_ready("workspace-console")
        yield f"127.0.0.1:{suite.ports['workspace-console']}"
    finally:
        suite.stop_all()


def conclude(problems, work):
    """Prints each problem and where the logs are; exits 1 when there was any."""
    for problem in problems[:20]:
        print(f"  FAIL {problem}")
    print(f"  logs: {work}")
    sys.exit(1 if problems else 0)


def percentile(values, fraction):
    """The `fraction` percentile of `values` (nearest rank); NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--purchases", type=int, default=200)
    parser.add_argument("--buyers", type=int, default=6, help="buyers at their pages at once")
    parser.add_argument("--kill-every", type=float, nargs=2, default=(0.2, 2.0), metavar=("MIN", "MAX"))
    parser.add_argument("--terminate-every", type=float, nargs=2, default=(1.0, 5.0), metavar=("MIN", "MAX"),
                        help="end about half of the services' PostgreSQL sessions every MIN to MAX seconds")
    parser.add_argument("--no-terminations", dest="terminate_every", action="store_const", const=None)
    parser.add_argument("--replicas", type=int, default=1, help="processes of each service but the emulator")
    parser.add_argument("--bin", default=None, help="the built executables (default: swift build --show-bin-path)")
    args = parser.parse_args()

    RPC.load_protos()

    bin_dir, work = built_and_folder(args.bin, f"chaos-{args.seed}")
    suite = Suite(work, bin_dir, args.replicas)
    rng = random.Random(args.seed)
    kills, stop = [], threading.Event()
    try:
        suite.start_all()
        for instance in suite.instances:
            suite.wait_ready(instance)
        channel = suite.channels["marketplace-gateway"]

        def killer():
            while not stop.wait(rng.uniform(*args.kill_every)):
                instance = rng.choice(suite.instances)
                kills.append((time.time(), instance))
                suite.kill(instance)

        def terminator():
            # PostgreSQL ends sessions under the services (an administrator, a failover, an
            # idle-session limit): about half of the services' connections at a time. Not the
            # emulator's: it stands in for Microsoft, whose database is not the suite's.
            while not stop.wait(rng.uniform(*args.terminate_every)):
                try:
                    ended = suite.psql("postgres", """
                        SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
                        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
                          AND application_name <> 'psql' AND datname <> 'marketplace_emulator'
                          AND random() < 0.5""")
                    terminations.append(int(ended[0][0]))
                except subprocess.CalledProcessError:
                    pass

        # The first buyers register, so that the branches of linked purchasers have accounts to
        # use; then every branch at random.
        first = min(args.buyers, args.purchases)
        branches, weights = zip(*BRANCH_WEIGHTS.items())
        pending = ["register"] * first + rng.choices(branches, weights, k=args.purchases - first)
        buyers, failures, lock = [], [], threading.Condition()
        linked = []  # accounts whose purchaser is linked: any number of further purchases each
        # Each account lends its address to one emailed-code walk of each kind.
        lendable = {"bind": [], "existing": []}
        registering = [pending.count("register")]

        def account_for(branch):
            """An account for `branch`, once one is there; None when none will ever come."""
            with lock:
                pool = lendable.get(branch, linked)
                lock.wait_for(lambda: pool or not registering[0], timeout=900)
                if not pool:
                    return None
                return pool.pop(rng.randrange(len(pool))) if branch in lendable else rng.choice(pool)

        def walk(branch):
            account = None
            if branch != "register":
                account = account_for(branch)
                if account is None:
                    branch = "register"
                    with lock:
                        registering[0] += 1
            buyer = Buyer(suite, channel, branch, account, site=rng.choice(SITES))
            buyers.append(buyer)
            try:
                buyer.walk()
            except Exception as error:  # a refusal or a buyer who never got there
                failures.append(f"{buyer.subscription} ({branch}): {error}")
            finally:
                if branch == "register":
                    with lock:
                        registering[0] -= 1
                        if buyer.activated:
                            registered = Account(buyer.name, buyer.purchaser)
                            linked.append(registered)
                            for pool in lendable.values():
                                pool.append(registered)
                        lock.notify_all()

        threading.Thread(target=killer, daemon=True).start()
        terminations = []
        if args.terminate_every:
            threading.Thread(target=terminator, daemon=True).start()
        started = time.time()
        threads = []
        while pending or threads:
            threads = [t for t in threads if t.is_alive()]
            while pending and len(threads) < args.buyers:
                thread = threading.Thread(target=walk, args=(pending.pop(0),))
                thread.start()
                threads.append(thread)
            time.sleep(0.05)
        metering = meter_a_day(suite, buyers, failures)
        lifecycle = follow_the_marketplace(suite, buyers, rng, failures)
        stop.set()
        elapsed = time.time() - started
        time.sleep(3)
        for instance in suite.instances:
            suite.wait_ready(instance)

        report(suite, buyers, kills, terminations, failures, elapsed, args, lifecycle, metering)
    finally:
        stop.set()
        suite.stop_all()


def follow_the_marketplace(suite, buyers, rng, failures):
    """The marketplace changes activated subscriptions while the killer goes on: it suspends half,
    reinstates half of those, and unsubscribes a tenth of the others (its webhook to the gateway,
    which changes the workspace at the console). Returns {subscription: (workspace, the statuses
    its workspace was to go through, seconds until the console showed each)}."""
    done = [b for b in buyers if b.activated]
    rng.shuffle(done)
    half = len(done) // 2
    waves = [("Suspend", "suspended", done[:half]), ("Reinstate", "active", done[:half // 2]),
             ("Unsubscribe", "suspended", done[half:half + len(done) // 10])]
    workspaces = dict(suite.psql("marketplace_gateway", "SELECT subscription_id, workspace_id FROM activation_sagas"))
    followed = {b.subscription: (workspaces.get(b.subscription), [], []) for _, _, wave in waves for b in wave}

    def change(subscription, action, status):
        started = time.time()
        if not marketplace_event(suite, subscription, action, failures):
            return
        workspace, statuses, seconds = followed[subscription]
        statuses.append(status)
        while workspace and time.time() - started < 300:
            shown = suite.psql("workspace_console", f"SELECT status FROM workspaces WHERE id = '{workspace}'")
            if shown and shown[0][0] == status:
                seconds.append(time.time() - started)
                return
            time.sleep(0.2)
        failures.append(f"{subscription}: not {status} 300 s after the marketplace's {action}")

    # Several subscriptions at once, as the marketplace sends them; one change at a time each.
    for action, status, wave in waves:
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda b: change(b.subscription, action, status), wave))
    return followed


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
    # The whole history moves, so that a workspace bound before its activation was paid by its
    # billing center account until then, not at the same time.
    suite.psql("billing_center", """
        UPDATE workspace_bindings SET valid_from = valid_from - interval '3 days',
            valid_to = valid_to - interval '3 days'""")
    today = int(time.time() + suite.usage_offset) // 86400 * 86400
    noon = today - 86400 + 12 * 3600
    day = time.strftime("%Y-%m-%d", time.gmtime(noon))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(noon))
    events = [{"idempotency_key": f"{w}/log_events/chaos", "workspace_id": w, "billing_item": "log_events",
               "quantity": "1500000", "usage_time": stamp} for w in workspaces]
    started = time.time()
    channel = suite.channels["billing-center"]
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


def report(suite, buyers, kills, terminations, failures, elapsed, args, lifecycle, metering):
    done = [b for b in buyers if b.activated]
    times = [b.activated - b.started for b in done]
    refusals = [r for b in buyers for r in b.refusals]
    print(f"chaos: seed {args.seed}, {len(buyers)} purchases by {args.buyers} buyers at once, "
          f"{args.replicas} replica(s) of each service but the emulator, {len(kills)} kills in {elapsed:.0f} s "
          f"({', '.join(f'{n} {sum(1 for _, k in kills if k == n)}' for n in suite.instances)}), "
          f"{sum(terminations)} PostgreSQL sessions ended in {len(terminations)} rounds")
    print("  branches: " + ", ".join(f"{branch} {sum(1 for b in buyers if b.branch == branch and b.activated)}"
                                     f"/{sum(1 for b in buyers if b.branch == branch)}"
                                     for branch in BRANCH_WEIGHTS) + " activated; "
          f"{sum(b.codes_sent for b in buyers)} codes asked for by mail, {sum(b.codes_tried for b in buyers)} typed in")
    if times:
        print(f"  first click to ACTIVATED: p50 {percentile(times, 0.5):.1f} s, p90 {percentile(times, 0.9):.1f} s, "
              f"max {max(times):.1f} s")
    print(f"  retries sent after UNAVAILABLE/DEADLINE_EXCEEDED/RESOURCE_EXHAUSTED: {sum(b.retries for b in buyers)}; "
          f"reloads while an earlier attempt was creating the workspace: {sum(b.reloads for b in buyers)}")
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
    registered = [b for b in buyers if b.branch == "register"]
    accounts = suite.psql("billing_center", "SELECT count(*) FROM billing_accounts")[0][0]
    if int(accounts) != len(registered):
        problems.append(f"{accounts} billing center accounts for {len(registered)} registrations")
    # One Guance account per buyer who registered one (all but the existing branch's).
    guance = int(suite.psql("workspace_console", "SELECT count(*) FROM accounts")[0][0])
    if guance != sum(1 for b in buyers if b.branch != "existing"):
        problems.append(f"{guance} Guance accounts for {sum(1 for b in buyers if b.branch != 'existing')} "
                        "registered by buyers")
    workspaces = int(suite.psql("workspace_console", "SELECT count(*) FROM workspaces")[0][0])
    if workspaces != len(buyers):
        problems.append(f"{workspaces} workspaces for {len(buyers)} purchases")
    # Each activation's workspace is the one its branch asked for, owned by whom it says.
    owners = dict(suite.psql("workspace_console", """
        SELECT w.id, a.email FROM workspaces w JOIN accounts a ON a.id = w.owner_account_id"""))
    settled = dict(suite.psql("marketplace_gateway", "SELECT subscription_id, workspace_id FROM activation_sagas"))
    for b in done:
        workspace = settled.get(b.subscription)
        expected = b.account.email if b.branch == "existing" else f"{b.name}@chaos.example"
        if owners.get(workspace) != expected:
            problems.append(f"{b.subscription} ({b.branch}): workspace {workspace} owned by {owners.get(workspace)}")
        if b.branch == "bind-workspace" and workspace != b.workspace:
            problems.append(f"{b.subscription}: bound {workspace}, not the workspace offered, {b.workspace}")
    # A bound purchaser pays through the account whose code it typed in.
    payers = dict(suite.psql("billing_center", """
        SELECT c.object_id, b.username FROM cloud_accounts c JOIN billing_accounts b ON b.id = c.billing_account_id"""))
    for b in done:
        if b.branch == "bind" and payers.get(b.purchaser) != b.account.name:
            problems.append(f"{b.subscription}: its purchaser is linked to {payers.get(b.purchaser)}, "
                            f"not {b.account.name}")
    unfinished = suite.psql("marketplace_gateway", "SELECT subscription_id, step FROM activation_sagas WHERE step <> 'activated'")
    claims = suite.psql("marketplace_gateway", "SELECT subscription_id FROM workspace_creation_claims")
    problems += [f"{s}: saga left at {step}" for s, step in unfinished]
    problems += [f"{s}: workspace creation still claimed" for (s,) in claims]
    # Each workspace pays through its own subscription, once: one cloud settlement per
    # subscription, current unless the marketplace unsubscribed it.
    paid = dict(suite.psql("billing_center", """
        SELECT marketplace_subscription_id, count(*) FROM workspace_bindings WHERE settlement = 'cloud_account'
        GROUP BY 1"""))
    for s in subscriptions:
        if paid.get(s) != "1":
            problems.append(f"{s}: {paid.get(s, 0)} workspace settlements through it")
    if len(paid) != len(subscriptions):
        problems.append(f"{len(paid)} subscriptions paying for a workspace, {len(subscriptions)} activated")
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
    # Each change the marketplace made changed its workspace's status once, however often it
    # was delivered: the console's history is exactly the statuses asked for, in order.
    history = {}
    for workspace, status in suite.psql("workspace_console",
                                        "SELECT workspace_id, to_status FROM workspace_status_changes ORDER BY id"):
        history.setdefault(workspace, []).append(status)
    followed_workspaces = {workspace for workspace, _, _ in lifecycle.values()}
    for subscription, (workspace, statuses, _) in lifecycle.items():
        if history.get(workspace, []) != statuses:
            problems.append(f"{subscription}: its workspace went through {history.get(workspace, [])}, "
                            f"the marketplace asked for {statuses}")
    untouched = [w for w in history if w not in followed_workspaces]
    problems += [f"workspace {w} changed status ({history[w]}) though its subscription did not" for w in untouched]
    if lifecycle:
        waits = [seconds for _, _, landed in lifecycle.values() for seconds in landed]
        changes = sum(len(statuses) for _, statuses, _ in lifecycle.values())
        print(f"  marketplace changes (suspend, reinstate, unsubscribe): {changes} to {len(lifecycle)} subscriptions, "
              f"at the console after p50 {percentile(waits, 0.5):.1f} s, max {max(waits):.1f} s; each workspace "
              f"changed exactly as asked: {'yes' if not any('went through' in p for p in problems) else 'NO'}")
    print(f"  exactly once: {len(subscriptions)} activations, each Activate accepted once: "
          f"{'yes' if not any('Activate' in p for p in problems) else 'NO'}; "
          f"{accounts} billing accounts, {workspaces} workspaces, {len(unfinished)} sagas and {len(claims)} "
          f"creations left unfinished")
    conclude(problems, suite.work)


if __name__ == "__main__":
    main()
