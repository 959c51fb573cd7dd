"""The dependency rule, checked on the import graph (docs/architecture.md, "What may import what").

Every module of ``station/``, ``central/``, ``web/``, ``hardware/``, ``mocks/`` and ``adapters/`` is
read as an
AST: its imports (at the top or inside a function, not those under ``if TYPE_CHECKING:``, which
only annotations read), ``importlib.import_module("name")`` and a module-level constant that names
a module of the project (wiring by name, as ``station/wiring.py`` does) are its edges. Each
failure names the module and the rule it broke.

``python -m tests.test_import_graph`` prints the package-level graph and the composition roots.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("station", "central", "web", "hardware", "mocks", "adapters")

COMPOSITION_ROOTS = frozenset(
    {
        "station.cli",  # `station …`: serves web.station, builds hardware through the wiring
        "station.wiring",  # the backends by name from config: hardware.backend, mocks.backend
        "central.cli",  # `station-central …`: serves web.central
        "central.wiring",  # the storage by name from config: adapters.postgresql
        "central.demo",  # `station demo`: a central store and three stations, as processes
    }
)
"""The only modules of station/ and central/ that may import web, hardware, mocks and adapters."""

VENDOR = frozenset(
    {
        "flask",
        "werkzeug",
        "jinja2",
        "itsdangerous",
        "gpiozero",
        "RPi",
        "lgpio",
        "serial",
        "spidev",
        "mfrc522",
        "minimalmodbus",
        "paho",
        "psycopg",
        "psycopg_pool",
        "psycopg2",
    }
)
"""Web, hardware, MQTT and database-driver libraries: never in station/ or central/."""
HARDWARE_LIBRARIES = frozenset(
    {"gpiozero", "RPi", "lgpio", "serial", "spidev", "mfrc522", "minimalmodbus", "paho"}
)
"""In hardware/, each of these is imported by one module only (its driver)."""
DATABASE_DRIVERS = frozenset({"psycopg", "psycopg_pool", "psycopg2"})
DRIVER_MODULE = "adapters.postgresql"
"""The one module that imports a database server's driver (docs/architecture.md)."""
FACES = ("web", "hardware", "mocks", "adapters")
CLIS = frozenset({"station.cli", "central.cli"})


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _resolve(name: str) -> str | None:
    """The project module ``name`` is, or is inside (``web.station.app.create_app``)."""
    known = modules()
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> Iterator[str]:
    """Every dotted name ``module`` imports, however it does it."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    wired = {
        id(node)
        for statement in tree.body
        if isinstance(statement, ast.Assign | ast.AnnAssign)
        for node in ast.walk(statement)
    }
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value
        elif (
            id(node) in wired
            and isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and "." in node.value
            and node.value in modules()
        ):
            yield node.value  # wiring by name, a module-level constant: "mocks.backend"


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (annotations only, never imported)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                todo.extend(child.orelse)
                continue
            todo.append(child)


@cache
def graph() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """Module → (the project modules it imports, the top-level outside packages it imports)."""
    out: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    for module, path in modules().items():
        inside: set[str] = set()
        outside: set[str] = set()
        for name in _imports(module, path):
            target = _resolve(name)
            if target is None:
                outside.add(name.split(".")[0])
            elif target != module and not module.startswith(target + "."):
                inside.add(target)  # (a package's own __init__ is not an edge of its modules)
        out[module] = (frozenset(inside), frozenset(outside))
    return out


def _top(module: str) -> str:
    return module.split(".")[0]


def test_station_and_central_import_no_web_hardware_mqtt_or_database_library() -> None:
    broken = [
        f"{module} imports {lib}: station/ and central/ stay free of web, hardware, MQTT and "
        "database libraries (move that code to web/, hardware/ or a store implementation)"
        for module, (_, outside) in graph().items()
        if _top(module) in ("station", "central")
        for lib in sorted(outside & VENDOR)
    ]
    assert not broken, "\n".join(broken)


def test_only_the_composition_roots_import_web_hardware_and_mocks() -> None:
    broken = []
    for module, (inside, _) in graph().items():
        top = _top(module)
        for target in sorted(inside):
            face = _top(target)
            if face not in FACES or face == top:
                continue
            if top in ("station", "central") and module in COMPOSITION_ROOTS:
                continue
            if top == "mocks" and face == "hardware":
                continue  # the emulators drive the real drivers, faked at the lowest level
            broken.append(
                f"{module} imports {target}: only the composition roots "
                f"({', '.join(sorted(COMPOSITION_ROOTS))}) import {face}/; take the "
                "implementation as an argument, or get it from the hardware's extras"
            )
    assert not broken, "\n".join(broken)


def test_the_station_does_not_depend_on_the_central_store() -> None:
    """central/ builds on station/ (model, roster, config); the station runs without central/."""
    broken = [
        f"{module} imports {target}: station/ must not need central/ (only the composition "
        "roots may, to start the demo)"
        for module, (inside, _) in graph().items()
        if _top(module) == "station" and module not in COMPOSITION_ROOTS
        for target in sorted(inside)
        if _top(target) == "central"
    ]
    assert not broken, "\n".join(broken)


def test_no_module_imports_a_command_line() -> None:
    """A CLI only parses arguments: what a page or the demo needs lives in a module of its own."""
    broken = [
        f"{module} imports {target}: move what it needs out of the command line module"
        for module, (inside, _) in graph().items()
        for target in sorted(inside & CLIS)
    ]
    assert not broken, "\n".join(broken)


def test_hardware_imports_each_vendor_library_in_one_module() -> None:
    users: dict[str, list[str]] = defaultdict(list)
    for module, (_, outside) in graph().items():
        if _top(module) == "hardware":
            for lib in outside & HARDWARE_LIBRARIES:
                users[lib].append(module)
    broken = [
        f"{lib} is imported by {', '.join(sorted(mods))}: keep it in one module of hardware/ "
        "and have the others call it"
        for lib, mods in sorted(users.items())
        if len(mods) > 1
    ]
    assert not broken, "\n".join(broken)


def test_one_module_imports_the_database_driver() -> None:
    """psycopg and its pool: in adapters/postgresql.py only; the SQL in central/pg/ is written
    against central/pg/db.py's protocols and the wiring imports the adapter by name."""
    broken = [
        f"{module} imports {lib}: only {DRIVER_MODULE} imports a database driver; write the "
        "SQL in central/pg/ against central/pg/db.py's protocols"
        for module, (_, outside) in graph().items()
        if module != DRIVER_MODULE
        for lib in sorted(outside & DATABASE_DRIVERS)
    ]
    assert not broken, "\n".join(broken)
    assert {"psycopg", "psycopg_pool"} <= graph()[DRIVER_MODULE][1]


def cycles() -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    edges = {m: sorted(inside) for m, (inside, _) in graph().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                nxt = edges[node][i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def test_no_import_cycle_between_modules() -> None:
    broken = [
        f"these modules import each other in a circle: {' → '.join(c)}; move what both need "
        "into a module that neither imports back"
        for c in cycles()
    ]
    assert not broken, "\n".join(broken)


def test_the_rules_see_what_they_check() -> None:
    """The graph is not empty by accident: known edges are there."""
    edges = graph()
    assert "web.station.app" in edges["station.cli"][0]
    assert "mocks.backend" in edges["station.wiring"][0]
    assert "flask" in edges["web.station.app"][1]
    assert "gpiozero" in edges["hardware.gpio"][1]
    assert "station.model" in edges["central.scope"][0]
    assert "adapters.postgresql" in edges["central.wiring"][0]


def _package(module: str) -> str:
    """The node of the package-level picture: web's apps apart, the roots by name."""
    if module in COMPOSITION_ROOTS:
        return module
    parts = module.split(".")
    if parts[0] == "web" and len(parts) > 1 and parts[1] in ("station", "central", "common"):
        return ".".join(parts[:2])
    return parts[0]


def package_edges() -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for module, (inside, _) in graph().items():
        for target in inside:
            a, b = _package(module), _package(target)
            if a != b:
                out[a].add(b)
    return out


if __name__ == "__main__":  # pragma: no cover
    for source, targets in sorted(package_edges().items()):
        print(f"{source:<16} → {', '.join(sorted(targets))}")
    print("composition roots:", ", ".join(sorted(COMPOSITION_ROOTS)))
    for c in cycles():
        print("cycle:", " → ".join(c))
    sys.exit(0)
