#!/usr/bin/env python3
"""Grows the suite's four databases to a given number of stored subscriptions, with COPY.

    scale_load.py DATABASE_URL SUFFIX FROM TO USAGE_PER_SUBSCRIPTION

Adds subscriptions FROM..TO-1 (numbered, so steps can grow the same databases: 0..10^3, then
10^3..10^5, ...), each one a finished bind-path activation as the services would have stored it:
- marketplace emulator: the subscription (Subscribed), its activation and its spent token;
- gateway: the followed subscription, its expired session, its finished saga, its audit trail
  and its purchaser's link;
- billing center: the purchaser's cloud account, the subscription, the workspace's binding and
  USAGE_PER_SUBSCRIPTION usage events spread over the last 30 days; one billing center account
  per 10 subscriptions;
- workspace console: the workspace and its owner's membership; one Guance account per 10.
The usage's days are marked closed (as the day closer leaves them once their grace is over), so
the billing center does not rate 10^7 preloaded events while the benchmark runs; their bill
lines are not made up. Databases are named as scripts/bench.sh's start_suite names them
(marketplace_gateway_SUFFIX, ...). Prints one line of JSON: rows per table and seconds.
"""
import datetime
import json
import subprocess
import sys
import time

url, suffix, first, last, usage_per = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
stamp = lambda t: t.isoformat()
created, expired = stamp(now - datetime.timedelta(days=40)), stamp(now - datetime.timedelta(days=39))
term_start, term_end = stamp(now - datetime.timedelta(days=40)), stamp(now + datetime.timedelta(days=325))
# Usage days: the 30 before today, all closed.
days = [(now - datetime.timedelta(days=d)).date() for d in range(1, 31)]


# Ids by kind and number, valid uuids that no service would make (version 4 nibble kept).
def uid(kind, n):
    return f"{kind:08x}-5ca1-4000-8000-{n:012x}"


SUBSCRIPTION, WORKSPACE, BILLING_ACCOUNT, CLOUD_ACCOUNT, ACCOUNT = 0x5C000001, 0x5C000002, 0x5C000003, 0x5C000004, 0x5C000005
PASSWORD_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2NhbGVzY2FsZXNjYWxl$0000000000000000000000000000000000000000000"
counts = {}


def copy(database, table, columns, rows):
    """COPY rows (tuples of text, None for NULL) into database.table."""
    process = subprocess.Popen(
        ["psql", "-q", "-v", "ON_ERROR_STOP=1", f"{url}/{database}", "-c",
         f"\\copy {table} ({', '.join(columns)}) FROM STDIN"],
        stdin=subprocess.PIPE, text=True, bufsize=1 << 20)
    n = 0
    buffer = []
    for row in rows:
        buffer.append("\t".join("\\N" if v is None else str(v) for v in row))
        n += 1
        if len(buffer) == 10000:
            process.stdin.write("\n".join(buffer) + "\n")
            buffer.clear()
    if buffer:
        process.stdin.write("\n".join(buffer) + "\n")
    process.stdin.close()
    if process.wait() != 0:
        sys.exit(f"scale_load: COPY into {database}.{table} failed")
    counts[f"{database}.{table}"] = counts.get(f"{database}.{table}", 0) + n


def psql(database, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", f"{url}/{database}", "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


subs = range(first, last)
# Accounts (billing center and console) for every tenth subscription from FROM on.
owners = range((first + 9) // 10, (last + 9) // 10)
tenant = lambda i: f"scale-tenant-{i // 10}"
purchaser = lambda i: f"scale-purchaser-{i}"
email = lambda i: f"buyer{i}@scale.example"
started = time.monotonic()

emulator, gateway, billing, console = (f"{name}_{suffix}" for name in
                                       ("marketplace_emulator", "marketplace_gateway", "billing_center", "workspace_console"))

copy(emulator, "subscriptions",
     ["id", "name", "offer_id", "plan_id", "quantity", "status", "purchaser_email", "purchaser_object_id",
      "purchaser_tenant_id", "beneficiary_email", "beneficiary_object_id", "beneficiary_tenant_id", "term_unit",
      "term_start", "term_end", "created", "last_modified"],
     ((uid(SUBSCRIPTION, i), f"Scale {i}", "guance-observability", "pay-as-you-go", None, "Subscribed", email(i),
       purchaser(i), tenant(i), email(i), purchaser(i), tenant(i), "P1M", term_start, term_end, created, created)
      for i in subs))
copy(emulator, "activations", ["subscription_id", "plan_id", "activated_at"],
     ((uid(SUBSCRIPTION, i), "pay-as-you-go", created) for i in subs))
copy(emulator, "marketplace_tokens", ["token", "subscription_id", "expires_at"],
     ((f"scale-token-{i}", uid(SUBSCRIPTION, i), expired) for i in subs))

copy(gateway, "marketplace_subscriptions",
     ["id", "name", "offer_id", "plan_id", "marketplace_status", "purchaser_email", "purchaser_tenant_id",
      "purchaser_object_id", "term_unit", "term_start", "term_end", "auto_renew", "created_at", "updated_at"],
     ((uid(SUBSCRIPTION, i), f"Scale {i}", "guance-observability", "pay-as-you-go", "Subscribed", email(i),
       tenant(i), purchaser(i), "P1M", term_start, term_end, "t", created, created) for i in subs))
copy(gateway, "activation_sessions", ["id_digest", "subscription_id", "created_at", "expires_at", "branch"],
     ((f"\\\\x{i:064x}", uid(SUBSCRIPTION, i), created, expired, "already_linked") for i in subs))
copy(gateway, "activation_sagas",
     ["subscription_id", "billing_account_id", "workspace_id", "workspace_origin", "step", "activate_attempts",
      "next_attempt_at", "created_at", "updated_at"],
     ((uid(SUBSCRIPTION, i), uid(BILLING_ACCOUNT, i // 10), uid(WORKSPACE, i), "existing", "activated", 1, created,
       created, created) for i in subs))
copy(gateway, "subscription_audit", ["subscription_id", "event", "detail", "correlation_id", "at"],
     ((uid(SUBSCRIPTION, i), event, "", f"scale-{i}", created) for i in subs
      for event in ("activation_started", "workspace_settled", "activate_requested", "subscription_activated")))
copy(gateway, "purchaser_links", ["tenant_id", "object_id", "billing_account_id", "billing_username", "learnt_at"],
     ((tenant(i), purchaser(i), uid(BILLING_ACCOUNT, i // 10), f"scale-{i // 10}", created) for i in subs))

copy(billing, "billing_accounts",
     ["id", "username", "email", "password_hash", "company_name", "industry", "region", "contact_name", "created_at"],
     ((uid(BILLING_ACCOUNT, a), f"scale-{a}", f"owner{a}@scale.example", PASSWORD_HASH, f"Scale {a} Ltd",
       "software", "cn-east", f"Owner {a}", created) for a in owners))
copy(billing, "cloud_accounts", ["id", "provider", "tenant_id", "object_id", "billing_account_id", "linked_at"],
     ((uid(CLOUD_ACCOUNT, i), "azure", tenant(i), purchaser(i), uid(BILLING_ACCOUNT, i // 10), created) for i in subs))
copy(billing, "cloud_account_subscriptions", ["marketplace_subscription_id", "cloud_account_id", "first_seen_at"],
     ((uid(SUBSCRIPTION, i), uid(CLOUD_ACCOUNT, i), created) for i in subs))
copy(billing, "workspace_bindings",
     ["workspace_id", "billing_account_id", "workspace_name", "site", "settlement", "marketplace_subscription_id",
      "valid_from"],
     ((uid(WORKSPACE, i), uid(BILLING_ACCOUNT, i // 10), f"Scale {i}", "cn1", "cloud_account", uid(SUBSCRIPTION, i),
       created) for i in subs))
items = ("log_events", "time_series", "trace_spans", "rum_page_views")
copy(billing, "usage_events", ["idempotency_key", "workspace_id", "billing_item", "quantity", "usage_time", "recorded_at"],
     ((f"scale-{i}-{k}", uid(WORKSPACE, i), items[k % 4], f"{(i + k) % 997}.5",
       f"{days[(i + k) % 30]}T{(i * 7 + k) % 24:02d}:00:00+00", created)
      for i in subs for k in range(usage_per)))
psql(billing, "INSERT INTO closed_days (day, catalog_version) SELECT d::date, 'scale-preload' FROM "
              "generate_series(current_date - 30, current_date - 1, interval '1 day') d ON CONFLICT DO NOTHING")

copy(console, "accounts", ["id", "username", "email", "password_hash", "created_at"],
     ((uid(ACCOUNT, a), f"scale-{a}", f"owner{a}@scale.example", PASSWORD_HASH, created) for a in owners))
copy(console, "workspaces", ["id", "name", "language", "site", "owner_account_id", "created_at"],
     ((uid(WORKSPACE, i), f"Scale {i}", "en", "cn1", uid(ACCOUNT, i // 10), created) for i in subs))
copy(console, "workspace_members", ["workspace_id", "account_id", "role", "joined_at"],
     ((uid(WORKSPACE, i), uid(ACCOUNT, i // 10), "owner", created) for i in subs))

# Statistics as autovacuum would have them by the time a table held this much.
for database in (emulator, gateway, billing, console):
    psql(database, "VACUUM ANALYZE")
print(json.dumps({"subscriptions": last, "usage_per_subscription": usage_per, "rows": sum(counts.values()), "seconds": round(time.monotonic() - started, 1),
                  "workspace": uid(WORKSPACE, (first + last) // 2)}))
