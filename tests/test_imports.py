"""The package's import graph has no circle: data flows one way (io -> methods -> pipelines -> cli), and a module
never imports, even inside a function, a module that imports it back (``pipelines/batch.py`` and
``pipelines/benchmark.py`` did, until their shared job runner moved down to :mod:`bgsub.jobs`)."""

from __future__ import annotations

import ast
from pathlib import Path

import bgsub


def import_graph(package: Path) -> dict[str, set[str]]:
    """``module -> modules of the package it imports`` for every ``.py`` file under ``package`` (module-level and
    function-level imports alike; ``from a.b import c`` is an edge to ``a.b.c`` when that is a module, else to
    ``a.b``). Relative imports are resolved against the importing module."""
    top = package.name
    files: dict[str, Path] = {}
    for p in sorted(package.rglob("*.py")):
        parts = [top, *p.relative_to(package).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = p
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_pkg = path.name == "__init__.py"
        out: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = name.split(".") if is_pkg else name.split(".")[:-1]
                    here = here[: len(here) - (node.level - 1)]
                    base = ".".join(here + ([base] if base else []))
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    out.add(sub if sub in files else base)
        graph[name] = {m for m in out if m in files and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


# Circles known and not yet removed: none. (synth <-> scenarios, from the synth-scenarios merge, went in the
# seventeenth session: the default clip the scenarios build on moved into bgsub.scenarios.default.)
KNOWN: list[list[str]] = []


def test_the_package_has_no_import_circle():
    graph = import_graph(Path(bgsub.__file__).parent)
    assert "bgsub.jobs" in graph["bgsub.pipelines.batch"] and "bgsub.jobs" in graph["bgsub.pipelines.benchmark"]
    assert not any(m.startswith("bgsub.pipelines.") for c in cycles(graph) for m in c)
    assert cycles(graph) == KNOWN


def test_the_check_finds_a_circle_made_by_function_level_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("def f():\n    from pkg.sub.b import g\n    return g\n")
    (pkg / "sub" / "b.py").write_text("def g():\n    from . import a\n    return a\n")
    (pkg / "c.py").write_text("import pkg.sub.a\n")
    graph = import_graph(pkg)
    assert graph["pkg.sub.a"] == {"pkg.sub.b"} and graph["pkg.sub.b"] == {"pkg.sub.a"}
    assert cycles(graph) == [["pkg.sub.a", "pkg.sub.b"]]
