"""No import cycle inside the dora_assets package (issue 19 item 2).

Every module of the package is parsed with ``ast`` and every import of a dora_assets module is
collected wherever it stands: at module level, inside a function or a method, under an ``if``
or a ``try``. A cycle there, even one closed by a function-level import that Python happens to
resolve, means the modules cannot be understood, tested or moved apart, so the test fails and
names it.

The graph's nodes are the package's modules. A package's ``__init__.py`` is a node only if it
holds code (more than a docstring): an import of a bare package runs nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import dora_assets

PACKAGE_DIR = Path(dora_assets.__file__).parent


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name; a package's ``__init__.py`` under the package's name."""
    modules = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def has_code(tree: ast.Module) -> bool:
    """More than a module docstring."""
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return bool(body)


def imported_modules(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The modules of ``known`` that an import statement in ``module`` loads: for ``from x import
    y``, the submodule ``x.y`` when there is one, else ``x`` (y is a name defined in x)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names} & known
    if node.level:
        package = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    found = set()
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        found.add(submodule if submodule in known else base)
    return found & known


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, at any level of its code."""
    files = module_files()
    trees = {name: ast.parse(path.read_text(encoding="utf-8"), filename=str(path)) for name, path in files.items()}
    nodes = {name for name, tree in trees.items() if files[name].name != "__init__.py" or has_code(tree)}
    graph: dict[str, set[str]] = {name: set() for name in nodes}
    for name in nodes:
        is_package = files[name].name == "__init__.py"
        for node in ast.walk(trees[name]):
            if isinstance(node, ast.Import | ast.ImportFrom):
                graph[name] |= imported_modules(node, name, is_package, set(files)) & (nodes - {name})
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of ``graph`` (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = {stack.pop()}
            while node not in component:
                component.add(stack.pop())
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle per strongly connected component of two modules or more (or a module
    importing itself), each as a closed path from its first module in name order back to it."""
    cycles = []
    for component in strongly_connected(graph):
        start = min(component)
        if len(component) == 1 and start not in graph[start]:
            continue
        paths = {start: [start]}
        queue = [start]
        while queue:
            node = queue.pop(0)
            targets = sorted(graph[node] & component)
            if start in targets:
                cycles.append([*paths[node], start])
                break
            for target in targets:
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    queue.append(target)
    return sorted(cycles)


def test_the_graph_sees_imports_at_every_level_and_relative_ones() -> None:
    tree = ast.parse(
        "import dora_assets.sql\n"
        "def f():\n"
        "    from dora_assets.definitions import defs\n"
        "class C:\n"
        "    def m(self):\n"
        "        from . import sensors\n"
        "        from ..gold import assets\n"
    )
    known = set(module_files())
    found = set().union(
        *(
            imported_modules(node, "dora_assets.defs.bronze.checks", False, known)
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
        )
    )
    assert found == {
        "dora_assets.sql",
        "dora_assets.definitions",
        "dora_assets.defs.bronze.sensors",
        "dora_assets.defs.gold.assets",
    }


def test_from_a_package_import_a_submodule_points_at_the_submodule() -> None:
    [node] = ast.parse("from dora_assets.receiver import signatures, create_app").body
    found = imported_modules(node, "dora_assets.receiver.deliveries", False, set(module_files()))
    assert found == {"dora_assets.receiver.signatures", "dora_assets.receiver"}


def test_find_cycles_names_one_cycle_per_tangle() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c", "e"}, "e": set()}) == [
        ["a", "b", "a"],
        ["c", "d", "c"],
    ]


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert graph.get("dora_assets.definitions"), "the walk found no imports"
    cycles = find_cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)
