#!/usr/bin/env python3
"""The README's module graph is the one the code has.

    scripts/check_module_graph.py [--print]

Reads the graph from the fenced block under "### Module graph" in README.md, one line per
module of Sources/: "Module → Imported, Imported" ("—" for none). Computes the same from the
`import` lines of each module's Swift files (any access level, @testable too), keeping only the
suite's own modules. Prints every difference and exits 1 when there is one; --print prints the
graph the code has, in the README's form, to paste.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = os.path.join(ROOT, "Sources")
IMPORT = re.compile(r"\s*(?:@\w+\s+)*(?:(?:public|package|internal|private|fileprivate)\s+)?import\s+"
                    r"(?:(?:struct|class|enum|func|protocol|typealias|let|var)\s+)?(\w+)")


def code_graph():
    """{module: sorted list of the suite's modules it imports}."""
    modules = sorted(d for d in os.listdir(SOURCES) if os.path.isdir(os.path.join(SOURCES, d)))
    graph = {}
    for module in modules:
        imported = set()
        for folder, _, names in os.walk(os.path.join(SOURCES, module)):
            for name in names:
                if not name.endswith(".swift"):
                    continue
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    for line in f:
                        found = IMPORT.match(line)
                        if found and found.group(1) in modules and found.group(1) != module:
                            imported.add(found.group(1))
        graph[module] = sorted(imported)
    return graph


def readme_graph():
    """The graph as README.md draws it; None when it has no such block."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    block = re.search(r"^### Module graph\n.*?^```[^\n]*\n(.*?)^```", text, re.M | re.S)
    if not block:
        return None
    graph = {}
    for line in block.group(1).splitlines():
        if "→" not in line:
            continue
        module, _, imported = line.partition("→")
        names = [n.strip() for n in imported.split(",") if n.strip() and n.strip() != "—"]
        graph[module.strip()] = sorted(names)
    return graph


def drawn(graph):
    width = max(len(m) for m in graph)
    return "\n".join(f"{m.ljust(width)} → {', '.join(graph[m]) or '—'}" for m in graph)


def main():
    code = code_graph()
    if "--print" in sys.argv:
        print(drawn(code))
        return
    readme = readme_graph()
    if readme is None:
        sys.exit("module graph: README.md has no '### Module graph' block")
    problems = []
    for module in sorted(set(code) | set(readme)):
        if module not in readme:
            problems.append(f"{module}: in Sources/, not in the README's graph")
        elif module not in code:
            problems.append(f"{module}: in the README's graph, not in Sources/")
        elif code[module] != readme[module]:
            problems.append(f"{module}: the code imports {', '.join(code[module]) or '—'}; "
                            f"the README draws {', '.join(readme[module]) or '—'}")
    if problems:
        print("module graph: README.md differs from the import lines "
              "(scripts/check_module_graph.py --print draws the code's):")
        for problem in problems:
            print(f"  {problem}")
        sys.exit(1)
    print(f"module graph: README.md draws the {len(code)} modules' imports as the code has them")


if __name__ == "__main__":
    main()
