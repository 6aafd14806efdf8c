#!/usr/bin/env python3
"""An outside check of who may touch what in the activation flow, against `make run`.

    scripts/activation-probe [--gateway HOST:PORT] [--billing ...] [--console ...]
                             [--emulator URL] [--landing URL] [--mailbox DIR]

A client built from Protos/ only (grpcio), as an activation page or another purchaser would
be: purchases on the emulator, walks the flow over the public RPCs and tries what must be
refused (someone else's workspace, codes and sessions, bad input, malformed tokens and
webhook bodies). Prints `ok` or `FAIL` per check and exits 1 if any failed. Each run uses
fresh names, so it can be run again on the same `make run`.
"""
import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2

import grpc_call as RPC  # scripts/grpc_call.py, beside this script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "correct horse battery"
GATEWAY = "guance.gateway.v1.ActivationService"
BILLING = "guance.billing.v1.BillingCenterService"
CONSOLE = "guance.console.v1.WorkspaceConsoleService"


class Refused(Exception):
    """A non-OK status with its google.rpc details, decoded."""

    def __init__(self, error):
        super().__init__(f"{error.code().name}: {error.details()}")
        self.code = error.code().name
        self.message = error.details() or ""
        self.fields, self.reason, self.domain, self.resource = [], None, None, None
        for key, value in error.trailing_metadata() or ():
            if key != "grpc-status-details-bin":
                continue
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                    request = error_details_pb2.BadRequest()
                    detail.Unpack(request)
                    self.fields += [v.field for v in request.field_violations]
                elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    self.reason, self.domain = info.reason, info.domain
                elif detail.Is(error_details_pb2.ResourceInfo.DESCRIPTOR):
                    resource = error_details_pb2.ResourceInfo()
                    detail.Unpack(resource)
                    self.resource = resource.resource_type


class Probe:
    def __init__(self, args):
        self.args = args
        self.channels = {}
        self.failures = 0
        self.run = uuid.uuid4().hex[:8]

    # --- transport ---------------------------------------------------------------------

    def call(self, address, method, request, token=None):
        """The reply as a dict (proto field names); raises Refused."""
        channel = self.channels.setdefault(address, grpc.insecure_channel(address))
        stub, request_class = RPC.unary(channel, method)
        metadata = [("authorization", f"Bearer {token}")] if token else []
        try:
            reply = stub(json_format.ParseDict(request, request_class()), metadata=metadata, timeout=60)
        except grpc.RpcError as error:
            raise Refused(error) from None
        return json_format.MessageToDict(reply, preserving_proto_field_name=True)

    def gateway(self, method, request):
        return self.call(self.args.gateway, f"{GATEWAY}/{method}", request)

    def billing(self, method, request, token=None):
        return self.call(self.args.billing, f"{BILLING}/{method}", request, token)

    def console(self, method, request, token=None):
        return self.call(self.args.console, f"{CONSOLE}/{method}", request, token)

    def refused(self, body):
        try:
            body()
        except Refused as refusal:
            return refusal
        return None

    def http(self, method, url, body=None, headers=None):
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def check(self, name, condition, detail=""):
        print(f"{'ok  ' if condition else 'FAIL'} {name}" + ("" if condition else f": {detail}"))
        if not condition:
            self.failures += 1

    # --- the flow ----------------------------------------------------------------------

    def purchase(self, object_id=None, email="buyer@probe.example"):
        """A new purchase for a purchaser (a new one unless named), resolved into a session."""
        object_id = object_id or str(uuid.uuid4())
        purchaser = {"emailId": email, "objectId": object_id, "tenantId": "probe-tenant", "puid": ""}
        status, body = self.http("POST", f"{self.args.emulator}/admin/purchases", {"purchaser": purchaser})
        assert status == 201, f"purchase: {status} {body!r}"
        bought = json.loads(body)
        resolved = self.gateway("ResolveActivation", {"marketplace_token": bought["token"]})["activation"]
        return bought["subscriptionId"], resolved["session_id"], object_id

    def register(self, session, name, site="us1"):
        return self.gateway("RegisterAndActivate", {
            "session_id": session,
            "basic": {"username": name, "password": PASSWORD, "password_confirmation": PASSWORD,
                      "email": f"{name}@probe.example"},
            "company": {"company_name": f"{name} Ltd", "industry": "Software", "region": "EU", "contact_name": "Ada"},
            "workspace": {"name": f"{name} ops", "language": "en", "site": site},
            "terms_accepted": True,
        })["activation"]

    def logins(self, name):
        billing = self.billing("Login", {"login": name, "password": PASSWORD})["session_token"]
        console = self.console("Login", {"login": name, "password": PASSWORD})["session_token"]
        return billing, console

    def code(self, recipient, after):
        """The newest 6-digit code mailed to `recipient` after `after` (epoch seconds)."""
        deadline = time.time() + 60
        while time.time() < deadline:
            for path in sorted(os.scandir(self.args.mailbox), key=lambda e: e.stat().st_mtime, reverse=True):
                if path.name.endswith(".eml") and path.stat().st_mtime >= after:
                    text = open(path.path, encoding="utf-8").read()
                    if f"To: {recipient}" in text.splitlines():
                        found = re.search(r"\b[0-9]{6}\b", text)
                        if found:
                            return found.group(0)
            time.sleep(0.2)
        raise RuntimeError(f"no code reached {recipient}")

    # --- the checks ----------------------------------------------------------------------

    def main(self):
        a, b = f"probe-a-{self.run}", f"probe-b-{self.run}"
        sub_a, session_a, buyer_a = self.purchase()
        activated = self.register(session_a, a)
        self.check("register branch activates", activated["state"] == "ACTIVATION_STATE_ACTIVATED", activated)
        workspace_a = activated["workspace"]["workspace_id"]
        _, session_b, _ = self.purchase()
        workspace_b = self.register(session_b, b)["workspace"]["workspace_id"]
        owner_c = f"probe-c-{self.run}"
        workspace_c = self.console("RegisterAndCreateWorkspace", {
            "workspace_name": "C's", "language": "en", "site": "us1", "username": owner_c, "password": PASSWORD,
            "password_confirmation": PASSWORD, "email": f"{owner_c}@probe.example", "terms_accepted": True,
        })["workspace"]["id"]
        billing_a, console_a = self.logins(a)
        unknown = str(uuid.uuid4())

        # 1. Taking over a workspace needs its owner's console session.
        def bind(workspace, owner=""):
            return self.billing("BindWorkspace", {
                "workspace_id": workspace, "settlement": {"method": "SETTLEMENT_METHOD_BILLING_ACCOUNT"},
                "workspace_owner_session": owner}, billing_a)
        unproven = self.refused(lambda: bind(workspace_c))
        self.check("1 BindWorkspace without proof is refused", unproven and unproven.code == "INVALID_ARGUMENT"
                   and unproven.fields == ["workspace_owner_session"], unproven)
        foreign = self.refused(lambda: bind(workspace_c, console_a))
        self.check("1 someone else's workspace is NOT_FOUND", foreign and foreign.code == "NOT_FOUND", foreign)
        listed = self.billing("ListBoundWorkspaces", {}, billing_a).get("bindings", [])
        self.check("1 nothing was bound", workspace_c not in [x["workspace_id"] for x in listed], listed)

        # 2. No oracle: a workspace bound elsewhere reads as an unknown one.
        elsewhere = self.refused(lambda: bind(workspace_b, console_a))
        nowhere = self.refused(lambda: bind(unknown, console_a))
        self.check("2 bound elsewhere == unknown", elsewhere and nowhere and elsewhere.code == nowhere.code
                   and elsewhere.message.replace(workspace_b, unknown) == nowhere.message
                   and elsewhere.reason == nowhere.reason, (elsewhere, nowhere))
        changed = self.refused(lambda: self.billing("ChangeSettlementMethod", {
            "workspace_id": workspace_b, "settlement": {"method": "SETTLEMENT_METHOD_BILLING_ACCOUNT"}}, billing_a))
        changed_unknown = self.refused(lambda: self.billing("ChangeSettlementMethod", {
            "workspace_id": unknown, "settlement": {"method": "SETTLEMENT_METHOD_BILLING_ACCOUNT"}}, billing_a))
        self.check("2 ChangeSettlementMethod: bound elsewhere == unknown", changed and changed_unknown
                   and changed.code == changed_unknown.code
                   and changed.message.replace(workspace_b, unknown) == changed_unknown.message, (changed, changed_unknown))

        # 3. A second purchase does not take the first one's workspace.
        _, session_2, _ = self.purchase(buyer_a)
        bindable = self.gateway("ListBindableWorkspaces", {"session_id": session_2}).get("workspaces", [])
        self.check("3 the first subscription's workspace is not offered",
                   workspace_a not in [w["workspace_id"] for w in bindable], bindable)
        taken = self.refused(lambda: self.gateway("BindWorkspace", {"session_id": session_2, "workspace_id": workspace_a}))
        self.check("3 and is refused when named", taken and taken.code == "FAILED_PRECONDITION"
                   and taken.reason == "WORKSPACE_SETTLED_BY_SUBSCRIPTION", taken)

        # 4. A workspace code works only in the session that asked for it.
        _, session_3, _ = self.purchase(buyer_a)
        asked = time.time() - 1
        sent = self.gateway("SendWorkspaceEmailCode", {"session_id": session_2, "email": f"{a}@probe.example"})
        code = self.code(f"{a}@probe.example", asked)
        borrowed = self.refused(lambda: self.gateway("CreateWorkspace", {
            "session_id": session_3, "workspace": {"name": "borrowed", "language": "en", "site": "us1"},
            "existing_account": {"email": f"{a}@probe.example", "challenge_id": sent["challenge_id"], "code": code},
            "terms_accepted": True}))
        self.check("4 another session's code is refused", borrowed and borrowed.code == "NOT_FOUND", borrowed)

        # 5. The masked address tells nothing.
        _, session_5, _ = self.purchase()
        masks = {self.gateway("StartBillingAccountBinding", {"session_id": session_5, "billing_username": name})
                 ["masked_email"] for name in [a, b, f"nobody-{self.run}", f"x{self.run}"]}
        self.check("5 every masked address is the same", masks == {"***@***"}, masks)

        # 6 and 7. Everything checked before anything is created, named by the request's paths.
        _, session_6, _ = self.purchase()
        name_6 = f"probe-f-{self.run}"
        bad = self.refused(lambda: self.gateway("RegisterAndActivate", {
            "session_id": session_6,
            "basic": {"username": name_6, "password": PASSWORD, "password_confirmation": PASSWORD,
                      "email": f"{name_6}@probe.example"},
            "company": {"company_name": "F", "industry": "Software", "region": "EU", "contact_name": "Ada"},
            "workspace": {"name": "x" * 10_000 + "\u0000", "language": "tlh", "site": "mars1"},
            "terms_accepted": True}))
        self.check("6/7 bad workspace fields named by the request's paths", bad and bad.code == "INVALID_ARGUMENT"
                   and set(bad.fields) == {"workspace.name", "workspace.language", "workspace.site"}, bad)
        self.check("7 with an ErrorInfo", bad and bad.reason == "INVALID_FIELDS" and bad.domain == "guance.gateway.v1", bad)
        state = self.gateway("GetActivation", {"session_id": session_6})["activation"]["state"]
        self.check("6 nothing registered or linked", state == "ACTIVATION_STATE_NEEDS_BILLING_ACCOUNT", state)
        no_account = self.refused(lambda: self.billing("Login", {"login": name_6, "password": PASSWORD}))
        self.check("6 no billing center account", no_account and no_account.code == "UNAUTHENTICATED", no_account)
        _, session_7, _ = self.purchase(buyer_a)
        weak = self.refused(lambda: self.gateway("CreateWorkspace", {
            "session_id": session_7, "workspace": {"name": "weak", "language": "en", "site": "us1"},
            "new_account": {"username": f"probe-w-{self.run}", "password": "password", "password_confirmation": "password",
                            "email": f"probe-w-{self.run}@probe.example"},
            "terms_accepted": True}))
        self.check("7 CreateWorkspace names new_account.password", weak and weak.fields == ["new_account.password"], weak)

        # 8. An unsubscribed activation is CLOSED; its workspace stays listed, ended.
        status, body = self.http("POST", f"{self.args.emulator}/admin/subscriptions/{sub_a}/events",
                                 {"action": "Unsubscribe"})
        self.check("8 the marketplace unsubscribes", status == 201, (status, body))
        deadline, state = time.time() + 60, None
        while time.time() < deadline and state != "ACTIVATION_STATE_CLOSED":
            time.sleep(0.5)
            state = self.gateway("GetActivation", {"session_id": session_a})["activation"]["state"]
        self.check("8 the activation reads CLOSED", state == "ACTIVATION_STATE_CLOSED", state)
        ended = [x for x in self.billing("ListBoundWorkspaces", {}, billing_a).get("bindings", [])
                 if x["workspace_id"] == workspace_a]
        self.check("8 its workspace stays listed, ended", len(ended) == 1 and "ended_at" in ended[0], ended)

        # 9. Malformed tokens are bad input at once, never an outage.
        started = time.time()
        nul = self.refused(lambda: self.gateway("ResolveActivation", {"marketplace_token": "abc\u0000def"}))
        self.check("9 a NUL in a token is INVALID_ARGUMENT", nul and nul.code == "INVALID_ARGUMENT", nul)
        self.check("9 without retrying", time.time() - started < 1.0, time.time() - started)
        for token in ["abc%00def", "abc%0D%0Adef"]:
            status, _ = self.http("GET", f"{self.args.landing}/landing?token={token}", headers={"Accept": "application/json"})
            self.check(f"9 landing with {token} is 400", status == 400, status)

        # 10. Text the database cannot store is refused as 400 before the store.
        status, body = self.http("POST", f"{self.args.emulator}/admin/webhook-token", {})
        token = json.loads(body)["token"]
        operation = {"id": str(uuid.uuid4()), "activityId": str(uuid.uuid4()), "subscriptionId": sub_a,
                     "publisherId": "guance", "offerId": "guance-observability", "planId": "plan\u0000",
                     "quantity": 1, "timeStamp": "2026-12-02T00:00:00Z", "action": "ChangePlan", "status": "InProgress"}
        status, body = self.http("POST", f"{self.args.landing}/webhook", operation,
                                 {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        self.check("10 a NUL in a webhook body is 400", status == 400, (status, body))

        print(f"{self.failures} of the checks failed" if self.failures else "every check held")
        return 1 if self.failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", default="127.0.0.1:7100")
    parser.add_argument("--billing", default="127.0.0.1:7102")
    parser.add_argument("--console", default="127.0.0.1:7101")
    parser.add_argument("--emulator", default="http://127.0.0.1:7300")
    parser.add_argument("--landing", default="http://127.0.0.1:7180")
    parser.add_argument("--mailbox", default=os.path.join(ROOT, ".run", "mailbox"))
    args = parser.parse_args()
    RPC.load_protos()
    sys.exit(Probe(args).main())


if __name__ == "__main__":
    main()
