"""Prints the Debian packages that ROOTS need at run time, one a line, sorted:

    python3 apt_closure.py --exclude PKG[,PKG...] ROOT...

The closure of Depends and Pre-Depends (not Recommends, Suggests, ...) as `apt-cache depends
--recurse` reports it, taking the first alternative of an `a | b` and the first provider of a
virtual package, and never entering an excluded package: the tools a package manager needs to
*install* packages (dpkg, perl, debconf, install-info) are dependencies of their maintainer
scripts, which an image extracted with `dpkg-deb -x` never runs.
"""

import argparse
import subprocess
import sys

FLAGS = ["--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks",
         "--no-replaces", "--no-enhances"]


def parse(text):
    """{package: [[alternative, ...], ...]} where an alternative is (name, [providers])."""
    graph, current, group_open = {}, None, False
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            current = line.strip()
            graph.setdefault(current, [])
            group_open = False
            continue
        if line.startswith("    "):  # a provider of the virtual package just listed
            if current is not None and graph[current]:
                graph[current][-1][-1][1].append(line.strip())
            continue
        kind, _, name = line[2:].partition(": ")
        if kind not in ("Depends", "PreDepends"):
            group_open = False
            continue
        alternative = (name.strip(), [])
        if group_open:
            graph[current][-1].append(alternative)
        else:
            graph[current].append([alternative])
        group_open = line[1] == "|"
    return graph


def closure(roots, exclude):
    out = subprocess.run(["apt-cache", "depends", *FLAGS, *roots], check=True,
                         capture_output=True, text=True).stdout
    graph = parse(out)
    missing = [r for r in roots if r not in graph]
    if missing:
        sys.exit(f"apt-cache knows no {', '.join(missing)} (run apt-get update?)")
    seen, todo = set(), list(roots)
    while todo:
        pkg = todo.pop()
        if pkg in seen or pkg in exclude:
            continue
        seen.add(pkg)
        for group in graph.get(pkg, []):
            for name, providers in group:
                if name.startswith("<"):
                    chosen = next((p for p in providers if p not in exclude), None)
                else:
                    chosen = name if name not in exclude else None
                if chosen:
                    todo.append(chosen)
                    break
    return sorted(seen)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--exclude", default="")
    p.add_argument("roots", nargs="+")
    a = p.parse_args()
    exclude = {x for x in a.exclude.replace(",", " ").split() if x}
    print("\n".join(closure(a.roots, exclude)))


if __name__ == "__main__":
    main()
