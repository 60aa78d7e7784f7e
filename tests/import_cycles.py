#!/usr/bin/env python3
"""Import cycles between src/'s top-level modules (folders and files).

Prints each module's imports from the crate, and every cycle. Exits 1 when
there is a cycle. A cycle between folders is a design bug: two folders that
import each other cannot be understood, tested or changed one at a time.

    python3 tests/import_cycles.py [SRC]   (tests/run runs it on src/)
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "src"
CRATE_PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
USE_GROUP = re.compile(r"\buse\s+crate::\{([^;]*)\};", re.S)


def module_of(path: pathlib.Path, root: pathlib.Path) -> str | None:
    rel = path.relative_to(root)
    if rel.parts[0] == "bin" or rel.name == "lib.rs" and len(rel.parts) == 1:
        return None
    return rel.parts[0].removesuffix(".rs")


def code_only(text: str) -> str:
    """The text without comments (doc links name modules without importing them)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def graph(root: pathlib.Path = ROOT) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.rs")):
        module = module_of(path, root)
        if module is None:
            continue
        code = code_only(path.read_text())
        targets = set(CRATE_PATH.findall(code))
        for group in USE_GROUP.findall(code):
            targets |= {m.group(1) for m in re.finditer(r"(?:^|[{,\s])([a-z_][a-z0-9_]*)\s*(?:::|,|\}|$)", group)}
        edges.setdefault(module, set()).update(t for t in targets if t != module and t != "self")
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main() -> int:
    root = pathlib.Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT
    edges = graph(root)
    for module in sorted(edges):
        print(f"{module:12} -> {', '.join(sorted(edges[module])) or '(nothing)'}")
    found = cycles(edges)
    for c in found:
        print("cycle:", " <-> ".join(c))
    print(f"{len(edges)} modules, {len(found)} cycle(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
