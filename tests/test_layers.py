"""The package's floors (README, "Development"), enforced on the source.

Every import counts — at module level, inside functions and under ``TYPE_CHECKING`` —
because a lazy import is still a dependency: the circle this test prevents was made of
them. The rules:

- no import circle between modules of ``src/headwater``;
- a module imports only from its own package or from floors below its own;
- ``cli/`` (and the demo) is the only place that prints: no ``print(`` and no
  ``sys.stdout`` / ``sys.stderr`` writes below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "headwater"

# floors, from the ground up: a module may import from its own floor's package and below
FLOORS: list[tuple[str, ...]] = [
    ("errors", "_version", "progress", "results", "_files", "metrics"),
    ("cron",),  # cron expressions (Debian's rules) and fire times: config checks them
    ("storage",),  # a local folder or an fsspec URL: the dataset's and the models' files
    ("config", "records", "_lock", "_output"),
    ("engines", "sources", "plots"),
    ("tables",),
    ("workspace",),
    ("notify",),  # a finished run's summary to a command or a webhook ([notify])
    ("dataset",),
    ("inputs",),  # a path, a glob, a dataset version or a frame, read into a typed table
    ("ingest", "compare", "train", "registry", "monitor"),
    ("predict",),  # the production model used: score, predict
    ("reports", "_explain"),
    ("pipeline",),  # the jobs: train, deploy, rollback
    ("loop",),  # headwater run: the jobs composed under one writer
    ("schedule",),
    ("project",),
    ("examples",),  # the demo: a project made and run as a user would
    ("serve",),  # headwater serve: the API and dashboard over a Project (cli starts it)
    ("__init__", "cli"),
    ("__main__",),
]


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in SRC.rglob("*.py")}


def _resolve(name: str) -> str | None:
    """The module of ours that ``name`` (a module or an attribute of one) refers to."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str) -> set[str]:
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name)
                if target:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("headwater"):
                continue
            for alias in node.names:
                target = _resolve(f"{base}.{alias.name}") or _resolve(base)
                if target:
                    found.add(target)
    found.discard(module)
    return found


GRAPH = {m: _imports(m) for m in MODULES}


def _top(module: str) -> str:
    """The floor entry a module belongs to: ``headwater.ingest._job`` -> ``ingest``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _floor(module: str) -> int:
    top = _top(module)
    for i, names in enumerate(FLOORS):
        if top in names:
            return i
    raise AssertionError(f"{module} is on no floor: add {top!r} to FLOORS and the README")


def test_every_module_is_on_a_floor():
    for module in MODULES:
        _floor(module)


def test_no_import_circle():
    # Tarjan's strongly connected components: any component of more than one module is a
    # circle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
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
                circles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_imports_only_go_down():
    upward = set()
    for module, targets in sorted(GRAPH.items()):
        for target in sorted(targets):
            same_package = _top(module) == _top(target)
            if not same_package and _floor(target) >= _floor(module):
                upward.add(f"{module} -> {target}")
    assert not upward, "imports that do not go down a floor:\n" + "\n".join(sorted(upward))


@pytest.mark.parametrize(
    ("low", "forbidden"),
    [
        (("errors", "config", "records"), ("ingest", "compare", "train", "dataset")),
        (("engines",), ("ingest", "compare", "train", "dataset", "tables", "workspace")),
        (("ingest", "compare", "train", "registry", "dataset", "tables"), ("project", "cli")),
    ],
)
def test_named_rules(low, forbidden):
    # the rules, spelled out so that a change to FLOORS cannot drop them silently
    bad = [
        f"{m} -> {t}"
        for m, targets in GRAPH.items()
        if _top(m) in low
        for t in targets
        if _top(t) in forbidden
    ]
    assert not bad, bad


def _prints(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id == "print":
                found.append(f"{path.name}:{node.lineno} print()")
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("stdout", "stderr")
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
        ):
            found.append(f"{path.name}:{node.lineno} sys.{node.attr}")
    return found


def test_only_the_cli_prints():
    printing = []
    for module, path in MODULES.items():
        # _output writes a command's data file, and `-o -` means stdout: data, not messages
        if _top(module) in ("cli", "__main__", "examples", "_output"):
            continue
        printing += _prints(path)
    assert not printing, printing


def test_the_rules_see_a_violation(tmp_path):
    # the analysis itself: an upward import inside a function is found
    code = "def f():\n    from headwater.project import Project\n"
    tree = ast.parse(code)
    names = [
        n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module is not None
    ]
    assert names == ["headwater.project"]
    assert _resolve("headwater.project.Project") == "headwater.project"
    assert "headwater.workspace" in GRAPH["headwater.project"]
