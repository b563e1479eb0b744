"""The import graph of ``ranvier`` has no cycle.

Every ``import`` and ``from ... import`` statement counts, at module level or inside a
function: a function-level import that only defers loading a module (for import speed)
or dodges a cycle at run time still makes the two modules depend on each other, so a
cycle through it is still a cycle in the design. Imports under ``if TYPE_CHECKING:``
would count too (there are none).

An edge goes from the importing module to the module imported and to each package on
the way to it that does not contain the importer: ``from ..layers.base import Layer``
in ``ranvier.api.models.model`` runs ``ranvier/api/layers/__init__.py`` first, and
whatever that imports, while a module importing its sibling (the package is already
being imported) adds no edge to its own package. Cython's ``cimport`` is not an import
of a Python module and ``.pyx`` sources are not parsed; compiled modules are leaves.
"""

import ast
import subprocess
import sys
from collections import deque
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

import ranvier

# Compiled modules count as leaves: by their .pyx source, or by the extension when the
# sources are not installed (a wheel).
_MODULE_SUFFIXES = (".py", ".pyx", *EXTENSION_SUFFIXES)


def _module_names(root, package):
    """``{module name: path}`` for every module under ``root`` (the package folder)."""
    modules = {}
    for path in sorted(root.rglob("*")):
        suffix = next((s for s in _MODULE_SUFFIXES if path.name.endswith(s)), None)
        if suffix is None or "__pycache__" in path.parts:
            continue
        parts = [package, *path.relative_to(root).parent.parts, path.name[: -len(suffix)]]
        if parts[-1] == "__init__":
            parts.pop()
        modules.setdefault(".".join(parts), path)
    return modules


def _is_package(path):
    return path.name == "__init__.py"


def _imported_names(module, path, tree):
    """Yield (absolute dotted name, line) for each name an import statement may load."""
    here = module.split(".") if _is_package(path) else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            stem = ".".join(base + (node.module.split(".") if node.module else []))
            yield stem, node.lineno
            for alias in node.names:
                if alias.name != "*":
                    yield f"{stem}.{alias.name}", node.lineno


def import_graph(root, package):
    """The import graph of the package in folder ``root``.

    Returns
    -------
    dict
        ``{module: {imported module: "file:line" of the first import}}`` over the
        package's own modules; imports of other packages are left out.
    """
    modules = _module_names(root, package)
    graph = {name: {} for name in modules}
    for module, path in modules.items():
        if path.suffix != ".py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        enclosing = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 2)}
        if not _is_package(path):
            enclosing.discard(module)
        for name, line in _imported_names(module, path, tree):
            parts = name.split(".")
            # The module itself and every package on the way that is not one of the importer's own.
            for i in range(1, len(parts) + 1):
                target = ".".join(parts[:i])
                if target in modules and target not in enclosing and target != module:
                    graph[module].setdefault(target, f"{path.relative_to(root.parent)}:{line}")
    return graph


def _strongly_connected(graph):
    """Tarjan's components with more than one module, each as a sorted list."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _shortest_cycle(graph, start, members):
    """A shortest cycle from ``start`` back to it within ``members``, as a list of modules."""
    parent, queue = {start: None}, deque([start])
    while queue:
        v = queue.popleft()
        for w in sorted(graph[v]):
            if w == start:
                path = [v]
                while parent[path[-1]] is not None:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if w in members and w not in parent:
                parent[w] = v
                queue.append(w)
    raise AssertionError(f"no cycle through {start}")  # every module of a component is on one


def _package_of(module, graph):
    # A module with submodules is a package; modules are named after their package.
    return module if any(name.startswith(f"{module}.") for name in graph) else module.rpartition(".")[0]


def cycles_report(graph):
    """Each import cycle with the file:line of every import on it; '' if there is none.

    For each set of mutually dependent modules: the shortest cycle through each module,
    one per set of imports that cross from one package to another (the imports within a
    package, such as every layer module importing ``base``, repeat across cycles).
    """
    paragraphs = []
    for component in _strongly_connected(graph):
        members, seen, lines = set(component), set(), []
        for start in component:
            cycle = _shortest_cycle(graph, start, members)
            edges = list(zip(cycle, cycle[1:]))
            crossing = frozenset(graph[a][b] for a, b in edges if _package_of(a, graph) != _package_of(b, graph))
            if crossing not in seen:
                seen.add(crossing)
                lines.append("\n".join(f"    {a} -> {b}  ({graph[a][b]})" for a, b in edges))
        head = f"{len(component)} modules depend on each other: {', '.join(component)}"
        paragraphs.append(f"{head}\n" + "\n\n".join(lines))
    return "\n\n".join(paragraphs)


def test_ranvier_has_no_import_cycle():
    root = Path(ranvier.__file__).parent
    graph = import_graph(root, "ranvier")
    assert "ranvier.api._threading" in graph["ranvier.api.config"]  # sanity: the parser sees imports
    report = cycles_report(graph)
    if report:
        pytest.fail(f"import cycles in ranvier:\n\n{report}", pytrace=False)


def _write(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_finds_a_cycle_through_relative_and_function_level_imports(tmp_path):
    _write(
        tmp_path / "pkg",
        {
            "__init__.py": "",
            "a.py": "from .sub import b\n",
            "sub/__init__.py": "",
            "sub/b.py": "def f():\n    from ..c import g\n",
            "c.py": "import pkg.a\n",
        },
    )
    graph = import_graph(tmp_path / "pkg", "pkg")
    assert graph["pkg.a"] == {"pkg.sub": "pkg/a.py:1", "pkg.sub.b": "pkg/a.py:1"}
    assert graph["pkg.sub.b"] == {"pkg.c": "pkg/sub/b.py:2"}
    report = cycles_report(graph)
    assert "pkg.a -> pkg.sub  (pkg/a.py:1)" not in report  # shortest path goes straight to pkg.sub.b
    assert "pkg.a -> pkg.sub.b  (pkg/a.py:1)\n    pkg.sub.b -> pkg.c  (pkg/sub/b.py:2)" in report
    assert "pkg.c -> pkg.a  (pkg/c.py:1)" in report


def test_a_package_importing_its_modules_and_siblings_importing_each_other_is_no_cycle(tmp_path):
    _write(
        tmp_path / "pkg",
        {
            "__init__.py": "from .layers import Dense\n",
            "layers/__init__.py": "from .core import Dense\nfrom . import base\n",
            "layers/base.py": "import numpy\n",
            "layers/core.py": "from .base import Layer\nfrom ..config import x\n",
            "config.py": "",
            "_fast.pyx": "cimport pkg._fast\n",
            f"_compiled{EXTENSION_SUFFIXES[0]}": "",
        },
    )
    graph = import_graph(tmp_path / "pkg", "pkg")
    assert graph["pkg.layers.core"] == {"pkg.layers.base": "pkg/layers/core.py:1", "pkg.config": "pkg/layers/core.py:2"}
    assert graph["pkg._fast"] == graph["pkg._compiled"] == {}
    assert cycles_report(graph) == ""


def test_import_ranvier_loads_no_heavy_module():
    """``import ranvier`` stays fast: what only some calls need is imported by those calls."""
    heavy = ("urllib.request", "http.client", "scipy.sparse", "scipy.linalg", "scipy.optimize", "numpy.testing")
    code = f"import sys, ranvier; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
