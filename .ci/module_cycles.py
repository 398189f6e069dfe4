#!/usr/bin/env python3
"""Fails when a crate's modules import each other in a circle.

For every crate under engine/ and repl/, each file is a module; an edge A -> B is a path that
A names: `crate::b::…`, `super::b`, `self::b` (resolved against A's place). Edges to a module's
own parent or children (the module tree itself) do not count. Prints every cycle found.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATES = ["engine/store", "engine/core", "engine/script", "engine/testkit", "repl"]


def modules(src):
    """Module path (tuple) -> file, for every .rs file under src."""
    out = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), src)[:-3].split(os.sep)
            if rel[-1] in ("lib", "main", "mod"):
                rel = rel[:-1]
            out[tuple(rel)] = os.path.join(dirpath, f)
    return out


def strip(text):
    text = re.sub(r"//[^\n]*", "", text)
    # Character literals first: a '"' would otherwise open a "string" that hides real paths.
    text = re.sub(r"'(\\.|[^'\\])'", "' '", text)
    return re.sub(r'"(\\.|[^"\\])*"', '""', text)


def edges(mods):
    graph = {m: set() for m in mods}
    for m, path in mods.items():
        text = strip(open(path, encoding="utf-8").read())
        # `mod tests { … }` blocks inside a file belong to the tests, not the module.
        cut = text.find("#[cfg(test)]")
        if cut >= 0:
            text = text[:cut]
        for hit in re.finditer(r"\b(crate|super|self)((?:::\w+)+)", text):
            base, parts = hit.group(1), hit.group(2).split("::")[1:]
            here = list(m)
            if base == "crate":
                target = []
            elif base == "super":
                target = here[:-1]
                while parts and parts[0] == "super":
                    target, parts = target[:-1], parts[1:]
            else:
                target = here
            for p in parts:
                if tuple(target + [p]) in mods:
                    target.append(p)
                else:
                    break
            t = tuple(target)
            if t in mods and t != m and t != m[: len(t)] and m != t[: len(m)]:
                graph[m].add(t)
    return graph


def cycles(graph):
    found, state, stack = [], {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for d in sorted(graph[n]):
            if state.get(d) == 1:
                found.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    return found


failed = False
for crate in CRATES:
    found = cycles(edges(modules(os.path.join(ROOT, crate, "src"))))
    for c in found:
        failed = True
        print(f"{crate}: " + " -> ".join("::".join(m) or "crate" for m in c))
if failed:
    sys.exit(1)
print("no module cycles in " + ", ".join(CRATES))
