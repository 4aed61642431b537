"""The house rules, checked on the source: floors only import downwards (lazy imports inside functions included),
no import cycles, no module reaching into another's private names, modules <= 300 lines, functions <= 60 lines.

A new module goes on a floor here; a failure names the arrow, the module or the function that broke the rule.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "edgebert"

# Floors from the ground up: a module may import its own floor or lower ones, never a higher one.
FLOORS = [
    ("ground", ["errors", "quiet", "device_info", "arch", "_compat"]),
    ("numbers", ["parity", "opprofile", "runner", "bundle", "inputs", "pooling", "hostile", "buckets"]),
    ("models", ["models", "tokenizer", "golden", "runtimes", "layers", "prune"]),
    ("formats", ["formats"]),
    ("device", ["runtime", "verify", "__init__", "web"]),
    ("tooling", ["export", "distill", "diff"]),
    ("bench", ["bench", "serve"]),
    ("report", ["report"]),
    ("workflows", ["suite", "fit"]),
    ("render", ["render"]),
    ("cli", ["cli"]),
]
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _floor(module: str) -> int:
    rest = module.split(".")[1:] or ["__init__"]
    for level, (_, prefixes) in enumerate(FLOORS):
        if rest[0] in prefixes:
            return level
    raise AssertionError(f"{module} is on no floor: add it to FLOORS in tests/test_architecture.py")


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The edgebert module an import names (a `from X import y` may name a submodule y)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(path: Path, modules: dict[str, Path]) -> list[tuple[str, str, list[str]]]:
    """(target module, how it was written, imported names) for every edgebert import, lazy ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(_resolve(a.name, modules), a.name, []) for a in node.names if a.name.startswith("edgebert")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("edgebert"):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if submodule in modules:  # `from edgebert.formats import onnx`: the submodule itself
                    found.append((submodule, node.module, []))
                else:
                    found.append((_resolve(node.module, modules), node.module, [alias.name]))
    return [(t, how, names) for t, how, names in found if t]


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: {t for t, _, _ in _imports(p, modules) if t != m} for m, p in modules.items()}


def test_floors_only_import_downwards():
    up = [f"{src} (floor {FLOORS[_floor(src)][0]}) -> {dst} (floor {FLOORS[_floor(dst)][0]})"
          for src, targets in _graph().items() for dst in sorted(targets)
          if _floor(dst) > _floor(src) and dst != "edgebert"]
    assert up == [], "imports that run back up:\n" + "\n".join(up)


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_module_imports_anothers_private_names():
    modules = _modules()
    private = [f"{src}: from {how} import {name}" for src, path in modules.items()
               for target, how, names in _imports(path, modules) for name in names
               if name.startswith("_") and not name.startswith("__") and target != src]
    assert private == []


def test_modules_and_functions_stay_small():
    long_modules = [f"{p.relative_to(ROOT.parent)}: {n} lines" for p in sorted(ROOT.rglob("*.py"))
                    if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES]
    long_functions = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long_functions.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} {node.name}: {length}")
    assert long_modules == [] and long_functions == [], "\n".join(long_modules + long_functions)


def test_the_floor_check_can_fail(tmp_path):
    """The checker itself: a lazy import from a low floor to a high one is found."""
    assert _floor("edgebert.formats.tflite") < _floor("edgebert.bench.worker")
    modules = {"edgebert.runner": tmp_path / "runner.py", "edgebert.bench.worker": tmp_path / "w.py"}
    (tmp_path / "runner.py").write_text("def f():\n    from edgebert.bench.worker import run_row\n")
    assert _imports(tmp_path / "runner.py", modules) == [("edgebert.bench.worker", "edgebert.bench.worker",
                                                          ["run_row"])]
