#!/usr/bin/env python3
"""Every RPC of every service is called by at least one test.

    scripts/rpc_coverage.py SERVED_FILE

SERVED_FILE lists the RPCs served while `make test` ran, one "package.Service/Method" per line:
every server of the suite writes there, once per method, when SUITE_RPC_RECORD names it (the
services the tests start, the tests' in-process servers; SuiteRPC's ServedRPCs). The RPCs
are read from Protos/guance (the suite's own services; grpc.health and grpc.reflection are
grpc's). Prints how many were called and each that was not; exits 1 when any was not.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def declared_rpcs():
    """{"package.Service/Method"} of every service in Protos/guance."""
    rpcs = set()
    for folder, _, names in os.walk(os.path.join(ROOT, "Protos", "guance")):
        for name in sorted(n for n in names if n.endswith(".proto")):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                text = re.sub(r"//[^\n]*", "", f.read())
            package = re.search(r"^\s*package\s+([\w.]+)\s*;", text, re.M).group(1)
            for service, body in re.findall(r"\bservice\s+(\w+)\s*\{(.*?)\n\}", text, re.S):
                for method in re.findall(r"\brpc\s+(\w+)\s*\(", body):
                    rpcs.add(f"{package}.{service}/{method}")
    return rpcs


def main():
    declared = declared_rpcs()
    served = set()
    if os.path.exists(sys.argv[1]):
        with open(sys.argv[1], encoding="utf-8") as f:
            served = {line.strip() for line in f if line.strip()}
    missing = sorted(declared - served)
    print(f"rpc coverage: {len(declared) - len(missing)} of the {len(declared)} RPCs in Protos/guance "
          "were called by the tests")
    for rpc in missing:
        print(f"  not called by any test: {rpc}")
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
