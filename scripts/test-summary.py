#!/usr/bin/env python3
"""The closing summary of `make test`: tests, suites, failures and time, and for each failing
test the folder of its services' logs.

Arguments: the swift-testing xUnit file, the captured `swift test` output, the folder of kept
service logs, the seconds `make test` has run (build included) and, optionally, its steps'
times ("setup 3 s,build 600 s,...")."""
import os
import re
import sys
import xml.etree.ElementTree as ET


def folder_name(classname, name):
    # As SuiteTesting's TestLogs.folderName makes it.
    allowed = re.compile(r"[^A-Za-z0-9._()\-]")
    return allowed.sub("_", f"{classname}.{name}")


def main():
    xunit, output, logs, elapsed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    steps = sys.argv[5].split(",") if len(sys.argv) > 5 and sys.argv[5] else []
    failing = []
    counts = None
    try:
        suite = ET.parse(xunit).getroot().find("testsuite")
    except (OSError, ET.ParseError):
        suite = None  # not written, or cut short by a crash
    if suite is not None:
        # The file's "failures" counts issues, not tests: count the failing test cases.
        counts = {key: int(suite.get(key, "0")) for key in ("tests", "skipped")}
        for case in suite.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failing.append((case.get("classname", ""), case.get("name", "")))
    closing = ""
    with open(output, errors="replace") as text:
        for line in text:
            if re.search(r"Test run with \d+ tests? in \d+ suites?", line):
                closing = line.strip()
    suites = re.search(r"in (\d+) suites?", closing)
    run_time = re.search(r"after ([\d.]+) seconds", closing)

    print()
    print("test: summary")
    if counts is None:
        print("  no test results were written: the test run did not finish (see the output above)")
    else:
        print(f"  tests:    {counts['tests']} in {suites.group(1) if suites else '?'} suites")
        print(f"  failed:   {len(failing)}")
        if counts["skipped"]:
            print(f"  skipped:  {counts['skipped']}")
    print(f"  time:     tests {float(run_time.group(1)):.0f} s; make test {elapsed} s, build included"
          if run_time else f"  time:     make test {elapsed} s, build included")
    if steps:
        print(f"  steps:    {'; '.join(steps)}")
    for classname, name in failing:
        folder = os.path.join(logs, folder_name(classname, name))
        where = folder if os.path.isdir(folder) else "(started no service)"
        print(f"  FAILED    {classname}.{name}")
        print(f"            service logs: {where}")
    if closing:
        print(f"  {closing}")


if __name__ == "__main__":
    main()
