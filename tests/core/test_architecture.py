"""The shape of the code: core/ is headless (no textual, no rich; its light modules no torch),
no import cycle anywhere, nothing but the entry point imports the App."""

from __future__ import annotations

import ast
import graphlib
import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

CORE = ROOT / "core"
UI_LIBRARIES = ("textual", "rich")


def _core_modules() -> list[str]:
    names = []
    for path in CORE.rglob("*.py"):
        parts = list(path.relative_to(CORE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(["lyrics_tui.core", *parts]))
    return sorted(names)


def _imported_names(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, (ast.Name, ast.Attribute))
            and getattr(node.func, "id", getattr(node.func, "attr", ""))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.append(node.args[0].value)
    return names


def test_core_sources_never_import_a_ui_library():
    offenders = []
    files = sorted(CORE.rglob("*.py"))
    assert len(files) >= 10, "core/ looks empty"
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name in _imported_names(tree):
            if name.split(".")[0] in UI_LIBRARIES:
                offenders.append(f"{path.relative_to(CORE)}: {name}")
    assert not offenders, offenders


def test_the_ast_check_would_catch_an_import():
    """The checker itself must see every way of spelling the import."""
    for source in (
        "import textual",
        "from rich.console import Console",
        "def f():\n    import rich.progress",
        "import importlib\nimportlib.import_module('textual.app')",
        "__import__('rich')",
    ):
        names = _imported_names(ast.parse(source))
        assert any(n.split(".")[0] in UI_LIBRARIES for n in names), source


def _modules_after_import(modules: list[str]) -> set[str]:
    code = (
        "import json, sys\n"
        f"for name in {modules!r}:\n"
        "    __import__(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def test_importing_every_core_module_loads_no_ui_library():
    loaded = _modules_after_import(_core_modules())
    assert "lyrics_tui.core.trainer" in loaded and "torch" in loaded  # the import really happened
    ui = sorted(m for m in loaded if m.split(".")[0] in UI_LIBRARIES)
    assert not ui, ui


def test_light_core_modules_do_not_import_torch():
    """The fast generate path (fastload + numpy stepper + sampler) must not pay for torch."""
    light = [
        "lyrics_tui.core",
        "lyrics_tui.core.config",
        "lyrics_tui.core.corpus",
        "lyrics_tui.core.tokens",
        "lyrics_tui.core.vocab",
        "lyrics_tui.core.events",
        "lyrics_tui.core.errors",
        "lyrics_tui.core.paths",
        "lyrics_tui.core.checkpoint",
        "lyrics_tui.core.fastload",
        "lyrics_tui.core.steppers",
        "lyrics_tui.core.sampling",
        "lyrics_tui.core.evaluate",
        "lyrics_tui.core.runs.store",  # lyrics-tui runs answers in a fraction of a second
        "lyrics_tui.core.runs.recorder",
        "lyrics_tui.core.runs.records",
        "lyrics_tui.core.cache",
        "lyrics_tui.core.loading",
    ]
    loaded = _modules_after_import(light)
    assert "lyrics_tui.core.fastload" in loaded
    assert "torch" not in loaded


# -- the import graph -------------------------------------------------------------------------
PACKAGES = {"lyrics_tui.core": ROOT / "core", "lyrics_tui.tui": ROOT / "tui"}


def _modules() -> dict[str, Path]:
    """Every module of the project by its installed name."""
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def _targets(module: str, path: Path, node: ast.AST, known: set[str]) -> list[str]:
    """The project modules one import statement names (the deepest one that exists)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
            for _ in range(node.level - 1):
                package = package.rsplit(".", 1)[0]
            base = f"{package}.{base}" if base else package
        names = [f"{base}.{alias.name}" for alias in node.names] + [base]
    out = []
    for name in names:
        while name and name not in known and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in known and name != module:
            out.append(name)
    return out


def import_graph(modules: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """module -> the project modules it imports anywhere (top level, functions, TYPE_CHECKING)."""
    modules = modules or _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[module] = {
            target
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for target in _targets(module, path, node, known)
        }
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def test_no_import_cycle_anywhere():
    graph = import_graph()
    assert len(graph) > 20 and "lyrics_tui.tui.app" in graph
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_the_cycle_check_would_catch_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_core_never_imports_the_views():
    graph = import_graph()
    offenders = [
        (module, target)
        for module, targets in graph.items()
        if module.startswith("lyrics_tui.core")
        for target in targets
        if target.startswith("lyrics_tui.tui")
    ]
    assert not offenders, offenders


def test_only_the_entry_point_imports_the_app():
    """Widgets and screens post messages upward; they never reach into the App."""
    graph = import_graph()
    importers = sorted(m for m, targets in graph.items() if "lyrics_tui.tui.app" in targets)
    entry = ("lyrics_tui.tui.cli", "lyrics_tui.tui.launch")
    assert all(m.startswith(entry) for m in importers), importers


def test_every_import_uses_the_installed_names():
    """`import core` would load a second copy of every module beside lyrics_tui.core."""
    offenders = []
    for module, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name in _imported_names(tree):
            if name.split(".")[0] in ("core", "tui", "data"):
                offenders.append(f"{module}: {name}")
    assert not offenders, offenders


def _long_parts(folders: tuple[str, ...]) -> tuple[dict[str, int], dict[str, int]]:
    """Modules over 500 lines and functions over 80, every line counted (docstrings,
    comments, blanks; a function from its first decorator)."""
    modules, functions = {}, {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            name = str(path.relative_to(ROOT))
            if (lines := len(source.splitlines())) > 500:
                modules[name] = lines
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                    if (length := (node.end_lineno or first) - first + 1) > 80:
                        functions[f"{name}:{node.name}"] = length
    return modules, functions


def test_no_module_over_500_lines_and_no_function_over_80():
    modules, functions = _long_parts(("core", "tui"))
    assert not modules, f"split these modules (a folder of their parts): {modules}"
    assert not functions, f"split these functions into named steps: {functions}"


def test_the_length_check_would_catch_a_long_function(tmp_path, monkeypatch):
    body = "\n".join(f"    x{i} = {i}" for i in range(80))
    (tmp_path / "long").mkdir()
    (tmp_path / "long" / "m.py").write_text(f"@staticmethod\ndef f():\n{body}\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _long_parts(("long",)) == ({}, {"long/m.py:f": 82})


def test_the_views_stay_small():
    """The App, a router, no more than 400 lines."""
    tree = ast.parse((ROOT / "tui" / "app.py").read_text(encoding="utf-8"))
    (app,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "PlaygroundApp"]
    assert app.end_lineno is not None
    first = min([app.lineno, *(d.lineno for d in app.decorator_list)])
    assert app.end_lineno - first + 1 <= 400, "PlaygroundApp: move work into a controller"


# -- typed seams ------------------------------------------------------------------------------
ANY_ALLOWED = 5  # each one left in tui/ says why on its line or the one above


def _mentions_any(annotation: ast.expr | None) -> bool:
    """Whether an annotation names Any (typing.Any, or inside a string annotation)."""
    if annotation is None:
        return False
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name) and node.id == "Any":
            return True
        if isinstance(node, ast.Attribute) and node.attr == "Any":
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                if _mentions_any(ast.parse(node.value, mode="eval").body):
                    return True
            except SyntaxError:
                pass
    return False


def any_annotations(source: str, name: str = "<source>") -> list[str]:
    """`name:line` of every annotation that names Any: arguments (*args and **kwargs too),
    returns, annotated assignments and class fields."""
    found = []
    for node in ast.walk(ast.parse(source)):
        annotations: list[ast.expr | None] = []
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            a = node.args
            every = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
            annotations = [arg.annotation for arg in every if arg is not None]
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations = [node.annotation]
        found += [f"{name}:{n.lineno}" for n in annotations if n is not None and _mentions_any(n)]
    return found


def test_the_views_name_core_types_instead_of_any():
    found = []
    for path in sorted((ROOT / "tui").rglob("*.py")):
        found += any_annotations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert len(found) <= ANY_ALLOWED, f"{len(found)} annotations with Any: {found}"


def test_the_any_count_would_catch_one():
    source = (
        "from typing import Any\n"
        "import typing\n"
        "def f(a: int, *args: Any, b: dict[str, Any] = {}, **kw: 'Any') -> typing.Any:\n"
        "    x: list[Any] = []\n"
        "class C:\n"
        "    field: 'tuple[Any, ...]'\n"
        "    named: int\n"
        "def g(a: int) -> None: ...\n"
    )
    assert any_annotations(source, "m") == ["m:3"] * 4 + ["m:4", "m:6"]
