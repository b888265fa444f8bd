"""converter's modules import one way: down the layers its folders show, and
with no import cycle, counting the imports made inside functions (a lazy
import hides a cycle, it does not remove it) and the package `__init__` that
importing a submodule runs first."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "converter"

LAYERS = (
    "core", "graphs", "passes", "architectures", "bundle", "backends", "sources", "forms",
    "emitters", "quantizers", "targets", "parity", "pipeline", "release", "zoo", "commands", "cli", "__main__",
)
"""converter's folders (and its loose modules) from the bottom up: each may
import those before it and its own, never one after it. README's
architecture section draws the same order."""
MAX_LOOSE_MODULES = 6

KNOWN_CYCLES: set[frozenset[str]] = set()
"""Cycles accepted for now, each with why; a test fails when one is gone."""


def module_names() -> dict[str, Path]:
    names = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Each module's imports of other converter modules, with the packages
    whose `__init__` they run."""
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            for target in targets:
                while target.startswith("converter."):
                    if target in modules and target != name and not name.startswith(target + "."):
                        edges[name].add(target)
                    target = target.rpartition(".")[0]
    return edges


def cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_checker_sees_a_cycle_through_a_function_level_import():
    edges = {"converter.a": {"converter.b"}, "converter.b": {"converter.a"}, "converter.c": set()}
    assert cycles(edges) == [frozenset({"converter.a", "converter.b"})]
    modules = module_names()
    assert "converter.sources.weights_only" in modules and "converter.parity" in modules
    # release.py imports convert inside a function only: it still counts.
    assert "converter.pipeline.convert" in imports(modules)["converter.release.build"]
    assert "converter.release.build" not in imports(modules)["converter.pipeline.convert"]  # it runs plan.PostSteps


def test_no_import_cycle_between_converter_modules():
    found = set(cycles(imports(module_names())))
    new = found - KNOWN_CYCLES
    assert new == set(), "new import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in new)
    assert KNOWN_CYCLES - found == set(), "a known cycle is gone: remove it from KNOWN_CYCLES"


def layer(module: str) -> str:
    return module.split(".")[1] if "." in module else "__init__"


def upward(edges: dict[str, set[str]]) -> list[str]:
    """The imports that climb: `module -> target` where target's layer comes later."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    return sorted(f"{module} -> {target}" for module, targets in edges.items() for target in targets
                  if layer(module) in rank and layer(target) in rank and rank[layer(target)] > rank[layer(module)])


def test_the_layer_check_sees_an_upward_import():
    assert upward({"converter.core.errors": {"converter.parity.engine"}, "converter.parity.engine": set()}) == [
        "converter.core.errors -> converter.parity.engine"]


def test_every_folder_is_in_a_layer_and_no_module_imports_upward():
    units = {path.stem if path.suffix == ".py" else path.name for path in ROOT.iterdir()
             if path.suffix == ".py" or (path / "__init__.py").is_file()}
    assert units - {"__init__"} == set(LAYERS), "every folder and loose module of converter/ has a layer"
    assert upward(imports(module_names())) == []


def test_converter_holds_few_loose_modules():
    loose = sorted(path.name for path in ROOT.glob("*.py"))
    assert len(loose) <= MAX_LOOSE_MODULES, loose
