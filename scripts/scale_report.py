#!/usr/bin/env python3
"""Writes bench/results/scale.md and scale-plans.md from the scale step's reports.

    scale_report.py DAY COMMIT MACHINE RSS SCALE_MD PLANS_MD < reports (one JSON per step)

Each report: the step (stored subscriptions), what scale_load.py loaded, the activation runs
(activation-load's lines), the hot statements from pg_stat_statements, the LookupWorkspace rate,
and the server log of a short batch run with auto_explain (JSON plans with EXPLAIN ANALYZE's
rows and buffers). Every figure is compared with the first step's, against issue 23's ±20 %.
"""
import json
import re
import statistics
import sys

day, commit, machine, rss, scale_md, plans_md = sys.argv[1:7]
steps = [json.loads(line) for line in sys.stdin if line.strip()]
if not steps:
    sys.exit("scale_report: no steps")
LIMIT = 0.20


def key(query):
    """One statement's text whatever its literals and parameters (pg_stat_statements replaces
    constants with $n; auto_explain logs the text as sent)."""
    text = re.sub(r"'(?:[^']|'')*'", "?", query)
    text = re.sub(r"\$\d+|\b\d+(?:\.\d+)?\b", "?", text)
    return re.sub(r"\s+", " ", text).strip()


def short(query, width=110):
    text = re.sub(r"\s+", " ", query).strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def plans(path):
    """Every plan auto_explain logged in PATH: [(query text, plan JSON)]."""
    found, lines = [], open(path, errors="replace").read().split("\n")
    i = 0
    while i < len(lines):
        if "LOG:  duration:" in lines[i] and lines[i].rstrip().endswith("plan:"):
            body = []
            i += 1
            while i < len(lines) and lines[i].startswith("\t"):
                body.append(lines[i][1:])
                i += 1
            try:
                entry = json.loads("\n".join(body))
                found.append((entry["Query Text"], entry["Plan"]))
            except (ValueError, KeyError):
                pass
            continue
        i += 1
    return found


def render(node, depth=0):
    name = node["Node Type"]
    if node.get("Operation") and name == "ModifyTable":
        name = node["Operation"]
    if node.get("Index Name"):
        name += f" using {node['Index Name']}"
    if node.get("Relation Name"):
        name += f" on {node['Relation Name']}"
    pad = "  " * depth
    out = [f"{pad}-> {name} (actual rows={node.get('Actual Rows', '?')} loops={node.get('Actual Loops', '?')})"]
    for field in ("Index Cond", "Recheck Cond", "Filter", "Join Filter", "Hash Cond", "Conflict Resolution",
                  "Conflict Arbiter Indexes", "Rows Removed by Filter"):
        if field in node:
            out.append(f"{pad}     {field}: {node[field]}")
    buffers = " ".join(f"{label}={node[field]}" for field, label in (
        ("Shared Hit Blocks", "hit"), ("Shared Read Blocks", "read"), ("Shared Dirtied Blocks", "dirtied"),
        ("Shared Written Blocks", "written")) if node.get(field))
    if buffers:
        out.append(f"{pad}     Buffers: shared {buffers}")
    for child in node.get("Plans", []):
        out.extend(render(child, depth + 1))
    return out


def scans(node):
    """The plan's table accesses: 'Index Scan using i on t', 'Seq Scan on t', ..."""
    found = []
    if node["Node Type"].endswith("Scan") and node.get("Relation Name"):
        found.append(node["Node Type"] + (f" using {node['Index Name']}" if node.get("Index Name") else "")
                     + f" on {node['Relation Name']}")
    for child in node.get("Plans", []):
        found.extend(scans(child))
    return found


for step in steps:
    runs = step["runs"]
    step["rate"] = statistics.median(r["activations_per_second"] for r in runs)
    step["p99"] = statistics.median(r["p99_ms"] for r in runs)
    step["cpu"] = statistics.median(sum(r["cpu_ms_per_activation"].values()) for r in runs)
    middle = sorted(runs, key=lambda r: r["activations_per_second"])[len(runs) // 2]
    step["cpu_by_process"] = middle["cpu_ms_per_activation"]
    step["activations"] = sum(r["activations"] for r in runs)
    # The last plan logged for each statement in the batch, and how often it ran there.
    log, step["plans"] = step["plans"], {}
    for query, plan in plans(log):
        seen = step["plans"].setdefault(key(query), {"query": query, "plan": plan, "runs": 0})
        seen.update(plan=plan)
        seen["runs"] += 1

first, last = steps[0], steps[-1]
change = lambda value, base: (value - base) / base if base else 0.0
within = lambda value, base: abs(change(value, base)) <= LIMIT
verdict = lambda ok: "within" if ok else "outside"
percent = lambda value, base: f"{100 * change(value, base):+.0f} %"

out = [f"""# Activations and reads as the stored data grows

Measured {day} at commit {commit} by `make bench` (`BENCH_ONLY=scale`) on {machine}, release
builds of the four services on one PostgreSQL (restarted with `pg_stat_statements` and
`auto_explain` loaded). At each step the databases are grown by `COPY` to that many stored
subscriptions (`scripts/scale_load.py`), each a finished bind-path activation as the services
store it in all four databases, with {last['loaded']['usage_per_subscription']} usage events each over the last 30 days (their days
closed), then `VACUUM ANALYZE` and a `CHECKPOINT`. The same suite keeps running from step to step; the
gateway's lifecycle reconciler, which lists every subscription at the marketplace and compares
it with its records, runs every 5 minutes as in production (its passes that ended during a
step's runs are counted). Then: a warm-up, the
bind-path activations of `activation.md` ({first['runs'][0]['activations']} a run, {len(first['runs'])} runs, medians), and
LookupWorkspace of one stored workspace (h2load, 16 connections × 16 streams). Goal (issue 23):
activation p99 and CPU per activation within ±20 % from 10^3 to 10^6 subscriptions.

| stored subscriptions | rows loaded (COPY s) | activations/s | p99 (runs) | CPU ms per activation | LookupWorkspace RPC/s | reconciler passes in the runs |
| --- | --- | --- | --- | --- | --- | --- |"""]
for step in steps:
    out.append(f"| {step['step']:,} | {step['loaded']['rows']:,} ({step['loaded']['seconds']} s) | {step['rate']} "
               f"({percent(step['rate'], first['rate'])}) | {step['p99']} ms ({percent(step['p99'], first['p99'])}; "
               f"{', '.join(str(r['p99_ms']) for r in step['runs'])}) | "
               f"{step['cpu']:.2f} ({percent(step['cpu'], first['cpu'])}) | {step['lookups_per_second']} "
               f"({percent(step['lookups_per_second'], first['lookups_per_second'])}) | {step.get('reconcile_passes', '—')} |")
out.append(f"""
At {last['step']:,} against {first['step']:,} (each figure a median of the runs at its step; ±20 % is the goal):

| figure | {first['step']:,} | {last['step']:,} | change | ±20 % |
| --- | --- | --- | --- | --- |
| activation p99 | {first['p99']} ms | {last['p99']} ms | {percent(last['p99'], first['p99'])} | {verdict(within(last['p99'], first['p99']))} |
| activation CPU, all processes | {first['cpu']:.2f} ms | {last['cpu']:.2f} ms | {percent(last['cpu'], first['cpu'])} | {verdict(within(last['cpu'], first['cpu']))} |
| activations/s | {first['rate']} | {last['rate']} | {percent(last['rate'], first['rate'])} | {verdict(within(last['rate'], first['rate']))} |
| LookupWorkspace RPC/s | {first['lookups_per_second']} | {last['lookups_per_second']} | {percent(last['lookups_per_second'], first['lookups_per_second'])} | {verdict(within(last['lookups_per_second'], first['lookups_per_second']))} |

CPU per activation by process (median run of each step):

| process | {' | '.join(f"{s['step']:,}" for s in steps)} |
| --- | {' | '.join('---' for _ in steps)} |""")
for name in sorted(first["cpu_by_process"], key=lambda n: -first["cpu_by_process"][n]):
    values = " | ".join(f"{s['cpu_by_process'].get(name, 0):.2f}" for s in steps)
    out.append(f"| {name} | {values} |")
out.append(f"""
RSS after the last step: {rss}.

## Hot statements

Every statement run at least once per two activations in the timed runs (the load generator's
own preparation of purchases and workspaces included), from `pg_stat_statements`: mean execution
time and shared buffers touched per call at each step, and the tables it reads at the last step
(from its plan; `scale-plans.md` has each plan in full). A B-tree one level deeper costs one
block more per probe; a statement whose blocks grow with the data would be scanning it.

| database | statement | calls per activation | {' | '.join(f"ms at {s['step']:,}" for s in steps)} | {' | '.join(f"blocks at {s['step']:,}" for s in steps)} | reads at {last['step']:,} |
| --- | --- | --- | {' | '.join('---' for _ in steps)} | {' | '.join('---' for _ in steps)} | --- |""")
by_step = [{(s["database"], key(s["query"])): s for s in step["statements"]} for step in steps]
seq_scans = []
for (database, k), statement in sorted(by_step[-1].items(), key=lambda item: -item[1]["mean_ms"] * item[1]["calls"]):
    calls = statement["calls"] / last["activations"]
    ms = " | ".join(f"{b[(database, k)]['mean_ms']:.3f}" if (database, k) in b else "—" for b in by_step)
    touched = " | ".join(f"{b[(database, k)]['blocks']:.1f}" if (database, k) in b else "—" for b in by_step)
    plan = last["plans"].get(k)
    reads = "; ".join(dict.fromkeys(scans(plan["plan"]))) if plan else "(no plan: not run in the batch)"
    if plan and any(s.startswith("Seq Scan") for s in scans(plan["plan"])):
        seq_scans.append(short(statement["query"], 80))
    cell = lambda text: text.replace("|", "\\|")
    out.append(f"| {database} | `{cell(short(statement['query']))}` | {calls:.1f} | {ms} | {touched} | {cell(reads) or '—'} |")
out.append("")
out.append("Sequential scans at the last step: " + ("none." if not seq_scans else "; ".join(f"`{q}`" for q in seq_scans) + "."))
open(scale_md, "w").write("\n".join(out) + "\n")

# Every plan of the batch at the last step, in full; and whether any statement's table accesses
# changed between the first step and the last.
plans_out = [f"""# Plans of the activation path and LookupWorkspace at {last['step']:,} stored subscriptions

Measured {day} at commit {commit} with `auto_explain` (`log_analyze`, `log_buffers`; timing off)
over a batch of 20 bind-path activations and 16 LookupWorkspace calls after the timed runs of
`scale.md`: each statement's last plan, as EXPLAIN (ANALYZE, BUFFERS) gives its nodes, actual
rows and shared buffers. Statements as the services send them ($n are their parameters).
"""]
changed = []
for k, entry in last["plans"].items():
    before = first["plans"].get(k)
    if before and sorted(set(scans(before["plan"]))) != sorted(set(scans(entry["plan"]))):
        changed.append((entry["query"], scans(before["plan"]), scans(entry["plan"])))
plans_out.append(f"Statements whose table accesses differ between {first['step']:,} and {last['step']:,} subscriptions "
                 "(with few rows, PostgreSQL rightly reads a small table whole rather than through an index): "
                 + ("none." if not changed else ""))
for query, a, b in changed:
    plans_out.append(f"- `{short(query, 90)}`: {', '.join(a)} → {', '.join(b)}")
plans_out.append("")
for k, entry in sorted(last["plans"].items(), key=lambda item: item[1]["query"]):
    plans_out.append(f"## `{short(entry['query'], 100)}`\n")
    plans_out.append(f"Ran {entry['runs']} times in the batch.\n")
    plans_out.append("```sql\n" + entry["query"].strip() + "\n```\n")
    plans_out.append("```\n" + "\n".join(render(entry["plan"])) + "\n```\n")
open(plans_md, "w").write("\n".join(plans_out))
