"""The package's modules import one way: no module imports, at any depth and inside functions too, a
module that imports it back (videos build on the Stylizer, never the reverse). The package's
``__init__`` is a lazy facade that loads names on first use, so it is left out."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "adain_hub"


def imports() -> dict[str, set[str]]:
    """Each module -> the package modules it imports (``from .x import ...``, ``from . import x``)."""
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    graph = {}
    for name in modules:
        deps = set()
        for node in ast.walk(ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                found = [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
                deps.update(d for d in found if d in modules)
        graph[name] = deps - {name}
    return graph


def test_no_module_imports_one_that_imports_it_back():
    graph = imports()
    assert "video" in graph["cli"] and "stylizer" in graph["video"]  # the scan sees imports inside functions
    cycles = []
    for start in sorted(graph):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for dep in graph[node]:
                if dep == start:
                    cycles.append(" -> ".join([*path, start]))
                elif dep not in seen:
                    seen.add(dep)
                    stack.append((dep, [*path, dep]))
    assert not cycles, cycles
    assert "video" not in graph["stylizer"]
