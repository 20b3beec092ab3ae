"""Imports run one way: every module's imports, read from its source, stay in its own layer
or go down, and no two packages import each other.

The layers, lowest first: ``messages`` ← ``supervisors.kernel`` (the supervision library)
← ``actors`` (cores, shells and their ports) ← ``bridges`` (adapters) ←
``supervisors.assembly`` (the runtime's assembly) ← ``tools`` ← ``bench`` ← ``tests``.
Every import counts, including those inside functions and ``if TYPE_CHECKING:`` blocks: a
deferred import is still a dependency.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import attrs
import pytest

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parent.parent
LAYERS = (
    "messages",
    "supervisors.kernel",
    "actors",
    "bridges",
    "supervisors.assembly",
    "tools",
    "bench",
    "tests",
)
ORDER = " ← ".join(LAYERS)
RANK = {layer: rank for rank, layer in enumerate(LAYERS)}
TOP_LEVEL = {layer.split(".")[0] for layer in LAYERS}


@attrs.frozen(kw_only=True, slots=True)
class Import:
    importer: str
    imported: str
    where: str


def layer_of(module: str) -> str | None:
    """The layer a project module belongs to; None for ``supervisors`` outside both parts."""
    for layer in sorted(LAYERS, key=len, reverse=True):
        if module == layer or module.startswith(f"{layer}."):
            return layer
    return None


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for top in sorted(TOP_LEVEL)
        for path in sorted((ROOT / top).rglob("*.py"))
    }


MODULES = _modules()


def _targets(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = importer.split(".")
        package = package if is_package else package[:-1]
        anchor = package[: len(package) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    # ``from package import module`` imports the module; ``from module import name`` the module.
    return [
        f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
        for alias in node.names
    ]


def _imports() -> list[Import]:
    found = []
    for importer, path in MODULES.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for imported in _targets(node, importer, is_package):
                if imported.split(".")[0] in TOP_LEVEL:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found.append(Import(importer=importer, imported=imported, where=where))
    return found


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    """Every import, parsed once for the module's tests: at collection, parsing every module
    cost each xdist worker and each ``-m fast`` run seconds."""
    return _imports()


def downward_violations(imports: list[Import]) -> list[str]:
    """Each import that runs up a layer, or into a module that belongs to no layer."""
    broken = []
    for edge in imports:
        source, target = layer_of(edge.importer), layer_of(edge.imported)
        if source is None or target is None:
            lost = edge.importer if source is None else edge.imported
            broken.append(
                f"{edge.where}: {edge.importer} imports {edge.imported}: {lost} is in no "
                f"layer (a supervisors module lives in supervisors.kernel or "
                f"supervisors.assembly)"
            )
        elif RANK[target] > RANK[source]:
            broken.append(
                f"{edge.where}: {edge.importer} imports {edge.imported}: {source} may not "
                f"import {target}, which is above it ({ORDER})"
            )
    return broken


def mutual_violations(imports: list[Import]) -> list[str]:
    """Each pair of packages that import each other, with one import each way."""
    by_pair: dict[tuple[str, str], Import] = {}
    for edge in imports:
        source, target = layer_of(edge.importer), layer_of(edge.imported)
        if source is not None and target is not None and source != target:
            by_pair.setdefault((source, target), edge)
    broken = []
    for (source, target), edge in sorted(by_pair.items()):
        back = by_pair.get((target, source))
        if back is not None and source < target:
            broken.append(
                f"{source} and {target} import each other ({edge.where}: {edge.importer} "
                f"imports {edge.imported}; {back.where}: {back.importer} imports "
                f"{back.imported}): no two packages may"
            )
    return broken


def test_the_walk_sees_every_package_and_their_imports(imports: list[Import]) -> None:
    layers: defaultdict[str | None, int] = defaultdict(int)
    for edge in imports:
        layers[layer_of(edge.importer)] += 1
    assert set(LAYERS) - {"messages"} <= set(layers)
    assert "supervisors.kernel.supervisor" in MODULES
    assert "bridges.journal_sqlite" in MODULES


def test_every_module_belongs_to_a_layer() -> None:
    lost = sorted(m for m in MODULES if layer_of(m) is None and m != "supervisors")
    assert not lost, f"modules in no layer ({ORDER}): {lost}"


def test_no_import_runs_up_a_layer(imports: list[Import]) -> None:
    broken = downward_violations(imports)
    assert not broken, "imports that run up a layer:\n" + "\n".join(broken)


def test_no_two_packages_import_each_other(imports: list[Import]) -> None:
    broken = mutual_violations(imports)
    assert not broken, "packages that import each other:\n" + "\n".join(broken)


def test_the_supervision_library_imports_nothing_but_messages_and_itself(
    imports: list[Import],
) -> None:
    allowed = {"messages", "supervisors.kernel"}
    broken = [
        f"{edge.where}: {edge.importer} imports {edge.imported}: the supervision library "
        f"imports nothing but messages and its own modules"
        for edge in imports
        if layer_of(edge.importer) == "supervisors.kernel"
        and layer_of(edge.imported) not in allowed
    ]
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize(
    ("importer", "imported", "rule"),
    [
        (
            "supervisors.kernel.supervisor",
            "actors.metrics",
            "supervisors.kernel may not import actors",
        ),
        ("actors.journal", "bridges.journal_sqlite", "actors may not import bridges"),
        (
            "bridges.zmq_server",
            "supervisors.assembly.runtime",
            "bridges may not import supervisors.assembly",
        ),
        ("supervisors.assembly.runtime", "tools.cli", "supervisors.assembly may not import tools"),
        ("bench.suite", "tests.stubs", "bench may not import tests"),
        ("actors.journal", "supervisors.runtime", "supervisors.runtime is in no layer"),
    ],
)
def test_a_forbidden_import_is_named_with_its_rule(importer: str, imported: str, rule: str) -> None:
    edge = Import(importer=importer, imported=imported, where="x.py:1")
    (message,) = downward_violations([edge])
    assert f"{importer} imports {imported}: " in message
    assert rule in message


def test_two_packages_importing_each_other_are_named() -> None:
    both = [
        Import(importer="actors.journal", imported="bridges.journal_sqlite", where="a.py:3"),
        Import(importer="bridges.journal_sqlite", imported="actors.journal", where="b.py:5"),
    ]
    (message,) = mutual_violations(both)
    assert message.startswith("actors and bridges import each other")
    assert "actors.journal imports bridges.journal_sqlite" in message
    assert "bridges.journal_sqlite imports actors.journal" in message
