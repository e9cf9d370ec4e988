"""The demo package's modules depend one way and use only each other's public names.

An ast walk over ``dora_assets/demo``: every import of a demo module (at module level or inside a
function), the names taken from it, and the attributes read from a demo module bound to a name.
Then over the rest of the repository's Python code (the package, the tests, the benchmark, the
docs' scripts): nothing outside the demo uses a demo module's private names either.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import dora_assets.demo

DEMO_DIR = Path(dora_assets.demo.__file__).resolve().parent
ROOT = DEMO_DIR.parent.parent
PACKAGE = "dora_assets.demo"
OTHER_CODE = ("dora_assets", "dora_assets_tests", "bench", "docs")


@dataclass(frozen=True)
class Use:
    """One module's use of a demo module: ``name`` is None when the whole module is imported."""

    user: str  # the using file, relative to the repository
    line: int
    module: str  # the demo module used, e.g. dora_assets.demo.model
    name: str | None


def module_name(path: Path) -> str:
    """The dotted name of a Python file under the repository root."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module of a ``from ... import`` (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def demo_uses(path: Path, text: str | None = None) -> list[Use]:
    """Every use of a demo module in one file (its ``text``, default read from ``path``), from
    imports anywhere in it and from attributes read off a name bound to a demo module."""
    tree = ast.parse(path.read_text("utf-8") if text is None else text, filename=str(path))
    importer = module_name(path)
    user = path.relative_to(ROOT).as_posix()
    uses: list[Use] = []
    bound: dict[str, str] = {}  # local name -> the demo module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    uses.append(Use(user, node.lineno, alias.name, None))
                    if alias.asname:
                        bound[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            source = absolute(node, importer, path.name == "__init__.py")
            for alias in node.names:
                if source == PACKAGE and (DEMO_DIR / f"{alias.name}.py").is_file():
                    module = f"{PACKAGE}.{alias.name}"  # from dora_assets.demo import generator
                    uses.append(Use(user, node.lineno, module, None))
                    bound[alias.asname or alias.name] = module
                elif source == PACKAGE or source.startswith(PACKAGE + "."):
                    uses.append(Use(user, node.lineno, source, alias.name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound:
            uses.append(Use(user, node.lineno, bound[node.value.id], node.attr))
    return uses


def is_private(name: str | None) -> bool:
    return name is not None and name.startswith("_") and not name.startswith("__")


def demo_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(DEMO_DIR.glob("*.py"))}


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as the path that closes it, or None."""
    state: dict[str, str] = {}  # module -> "open" while on the path, "done" after

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target, [*path, target])
                if found:
                    return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_the_walk_sees_imports_in_functions_relative_imports_and_module_attributes() -> None:
    source = (
        "from dora_assets.demo.model import History, _Hidden\n"
        "from . import generator as gen\n"
        "def later():\n"
        "    from .senders import retell\n"
        "    import dora_assets.demo.github\n"
        "    return gen._write_landing\n"
    )
    uses = {(use.module, use.name) for use in demo_uses(DEMO_DIR / "probe.py", source)}
    assert uses == {
        ("dora_assets.demo.model", "History"),
        ("dora_assets.demo.model", "_Hidden"),
        ("dora_assets.demo.generator", None),
        ("dora_assets.demo.senders", "retell"),
        ("dora_assets.demo.github", None),
        ("dora_assets.demo.generator", "_write_landing"),
    }
    assert {use.name for use in demo_uses(DEMO_DIR / "probe.py", source) if is_private(use.name)} == {
        "_Hidden",
        "_write_landing",
    }
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_demo_modules_import_each_other_without_a_cycle() -> None:
    modules = demo_modules()
    graph = {
        name: {use.module for use in demo_uses(path) if use.module in modules and use.module != name}
        for name, path in modules.items()
    }
    assert cycle_in(graph) is None, f"import cycle among the demo modules: {' -> '.join(cycle_in(graph) or [])}"
    assert graph.get("dora_assets.demo.model") == set(), "the model depends on no other demo module"


def test_no_demo_module_uses_another_ones_private_names() -> None:
    modules = demo_modules()
    reaches = [
        f"{use.user}:{use.line} uses {use.module}.{use.name}"
        for name, path in modules.items()
        for use in demo_uses(path)
        if use.module != name and is_private(use.name)
    ]
    assert reaches == []


def test_no_code_outside_the_demo_uses_its_private_names() -> None:
    files = [path for folder in OTHER_CODE for path in sorted((ROOT / folder).rglob("*.py"))]
    outside = [path for path in files if DEMO_DIR not in path.resolve().parents]
    assert any(path.parts[-2:] == ("cli", "commands.py") for path in outside)
    reaches = [
        f"{use.user}:{use.line} uses {use.module}.{use.name}"
        for path in outside
        for use in demo_uses(path)
        if is_private(use.name)
    ]
    assert reaches == []
