"""The house keeps its rooms: read from the imports themselves (TYPE_CHECKING ones included), no
module of `service/` or `fsm/` takes part in an import circle, `fsm/` imports nothing with I/O,
neither `errors.py` nor `store/` knows the web framework, and `service/` holds few modules of its
own beside its rooms."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("service", "fsm")
WITH_IO = {
    "service",
    "litestar",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "asyncpg",
    "aiosqlite",
    "uvicorn",
    "httpx",
}
MAX_TOP_LEVEL = 12


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def _imported(module: str) -> set[str]:
    """Every module name `module` imports, absolute, as written (a name may be a module's member)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _own(name: str) -> str | None:
    """The module of ours that `name` is or lies in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


GRAPH = {
    module: {own for name in _imported(module) if (own := _own(name)) and own != module} for module in MODULES
}


def _circles() -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in GRAPH[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in MODULES:
        if module not in index:
            visit(module)
    return found


def _package_inits_only(circle: list[str]) -> bool:
    """A package's `__init__` that imports its own modules is not a circle of design."""
    inits = [m for m in circle if MODULES[m].name == "__init__.py"]
    return len(circle) - len(inits) <= 1


def test_no_import_circle() -> None:
    assert [c for c in _circles() if not _package_inits_only(c)] == []


def test_fsm_imports_nothing_with_io() -> None:
    for module in (m for m in MODULES if m.startswith("fsm")):
        roots = {name.split(".")[0] for name in _imported(module)}
        assert not roots & WITH_IO, f"{module} imports {roots & WITH_IO}"


def test_errors_and_storage_do_not_know_the_web_framework() -> None:
    for module in (m for m in MODULES if m == "service.errors" or m.startswith("service.store")):
        assert not any(name.split(".")[0] == "litestar" for name in _imported(module)), module


def test_service_keeps_its_modules_in_rooms() -> None:
    top = [path for path in (ROOT / "service").glob("*.py") if path.name != "__init__.py"]
    assert len(top) <= MAX_TOP_LEVEL, sorted(path.name for path in top)


def test_the_graph_is_read_from_the_code() -> None:
    """The reading itself: a known import is seen, and a circle made up here is found."""
    assert "service.writes.unit_of_work" in GRAPH["service.operations.exports"]
    GRAPH["service.settings"].add("service.context")
    try:
        assert any("service.settings" in circle for circle in _circles())
    finally:
        GRAPH["service.settings"].discard("service.context")
