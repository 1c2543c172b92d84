"""The shape of the code (docs/architecture.md): every import of kdash, app.py and pages/ points down a floor or
stays in its own package, and no chain of imports ever comes back to where it started.

Imports inside functions count as much as those at the top: a lazy import is still an arrow."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

# Floors, lowest first. A module may import its own package and any lower floor; packages on one floor never
# import each other (the present floor and the demo generator stand apart). The ground floor's modules are one
# unit: thresholds, codes and labels that every floor may use. The CLI runs the benchmarks (`kdash bench`); `python -m kdash` only
# dispatches to the CLI.
FLOORS = [
    {"kdash", "kdash.settings", "kdash.vocab", "kdash.scales", "kdash.ids", "kdash.rulebook", "kdash._moved"},
    {"kdash.store"},
    {"kdash.access"},
    {"kdash.importers"},
    {"kdash.clinical"},
    {"kdash.present", "kdash.demo"},
    {"kdash.ui"},
    {"kdash.bench"},
    {"kdash.cli"},
    {"kdash.__main__"},
    {"pages", "app"},
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, Path]:
    files = [*(ROOT / "kdash").rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py"]
    return {module_name(p): p for p in files}


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The kdash modules a file imports (a `from package import module` names the module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "kdash"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            if base.split(".")[0] != "kdash":
                continue
            for a in node.names:
                full = f"{base}.{a.name}"
                found.add(full if full in known else base)
    return found - {name}


def graph() -> dict[str, set[str]]:
    mods = sources()
    return {name: imports(path, name, set(mods)) for name, path in mods.items()}


def floor_of(name: str) -> tuple[int, str]:
    """(floor number, the package it belongs to) of a module: its longest listed prefix."""
    best = None
    for i, floor in enumerate(FLOORS):
        for unit in floor:
            if name == unit or name.startswith(unit + ".") or (unit in ("pages", "app") and name.split(".")[0] == unit):
                if best is None or len(unit) > len(best[1]):
                    best = (i, unit)
    assert best is not None, f"{name} stands on no floor: add it to FLOORS and to docs/architecture.md"
    return best


def upward(g: dict[str, set[str]]) -> list[str]:
    bad = []
    for source, targets in sorted(g.items()):
        here, unit = floor_of(source)
        for target in sorted(targets):
            there, other = floor_of(target)
            if there > here or (there == here and here != 0 and other != unit):
                bad.append(f"{source} → {target}")
    return bad


def circles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each a circle of imports."""
    index, low, on, stack, out, n = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_a_higher_floor_or_a_neighbour_package():
    assert upward(graph()) == []


def test_no_circle_of_imports():
    assert circles(graph()) == []


def test_the_checks_catch_what_they_look_for():
    """The two checks on a made-up graph: an arrow up and a circle are found, a clean graph passes."""
    g = {"kdash.store.db": {"kdash.clinical.rules"}, "kdash.clinical.rules": {"kdash.store.db"}}
    assert upward(g) == ["kdash.store.db → kdash.clinical.rules"]
    assert circles(g) == [["kdash.clinical.rules", "kdash.store.db"]]
    assert upward({"kdash.access.users": {"kdash.importers.fhir"}}) == ["kdash.access.users → kdash.importers.fhir"]
    clean = {"pages.home": {"kdash.ui"}, "kdash.ui": {"kdash.present.charts"}, "kdash.present.charts": {"kdash.vocab"}}
    assert upward(clean) == [] and circles(clean) == []


def test_the_old_flat_module_names_are_the_new_modules():
    """Outside scripts (tools/real-data-smoke: `from kdash import db`) keep working: each old name is its new module."""
    import importlib

    from kdash import _moved
    for old, new in _moved.MOVED.items():
        assert importlib.import_module(f"kdash.{old}") is importlib.import_module(new), old
    assert set(_moved.MOVED.values()) <= set(sources()), "an alias points at a module that does not exist"
