"""core/ is headless: it never imports textual or rich, and its light modules never import torch."""
from __future__ import annotations

import ast
import json
import subprocess
import sys

from tests.helpers import ROOT

CORE = ROOT / "core"
UI_LIBRARIES = ("textual", "rich")


def _core_modules() -> list[str]:
    return sorted(f"lyrics_tui.core.{p.stem}" if p.stem != "__init__" else "lyrics_tui.core"
                  for p in CORE.glob("*.py"))


def _imported_names(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif (isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute))
              and getattr(node.func, "id", getattr(node.func, "attr", "")) in
              ("import_module", "__import__") and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names.append(node.args[0].value)
    return names


def test_core_sources_never_import_a_ui_library():
    offenders = []
    files = sorted(CORE.glob("*.py"))
    assert len(files) >= 10, "core/ looks empty"
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name in _imported_names(tree):
            if name.split(".")[0] in UI_LIBRARIES:
                offenders.append(f"{path.name}: {name}")
    assert not offenders, offenders


def test_the_ast_check_would_catch_an_import():
    """The checker itself must see every way of spelling the import."""
    for source in ("import textual", "from rich.console import Console",
                   "def f():\n    import rich.progress", "import importlib\n"
                   "importlib.import_module('textual.app')", "__import__('rich')"):
        names = _imported_names(ast.parse(source))
        assert any(n.split(".")[0] in UI_LIBRARIES for n in names), source


def _modules_after_import(modules: list[str]) -> set[str]:
    code = ("import json, sys\n"
            f"for name in {modules!r}:\n"
            "    __import__(name)\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def test_importing_every_core_module_loads_no_ui_library():
    loaded = _modules_after_import(_core_modules())
    assert "lyrics_tui.core.trainer" in loaded and "torch" in loaded  # the import really happened
    ui = sorted(m for m in loaded if m.split(".")[0] in UI_LIBRARIES)
    assert not ui, ui


def test_light_core_modules_do_not_import_torch():
    """The fast generate path (fastload + numpy stepper + sampler) must not pay for torch."""
    light = ["lyrics_tui.core", "lyrics_tui.core.config", "lyrics_tui.core.corpus", "lyrics_tui.core.tokens", "lyrics_tui.core.vocab", "lyrics_tui.core.events",
             "lyrics_tui.core.errors", "lyrics_tui.core.paths", "lyrics_tui.core.checkpoint", "lyrics_tui.core.fastload", "lyrics_tui.core.steppers",
             "lyrics_tui.core.sampling", "lyrics_tui.core.evaluate"]
    loaded = _modules_after_import(light)
    assert "lyrics_tui.core.fastload" in loaded
    assert "torch" not in loaded
