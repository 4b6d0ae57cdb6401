"""The package's import graph, read from the source (nothing is imported): no import
circle among module-level imports, ``keras_i2i.runtime`` (what phones and the webcam run)
reaches no TensorFlow or Keras, and only the CLI and ``training/`` itself import
``keras_i2i.training`` at module level.

Module level means the imports a module runs when it is imported: everything outside
function bodies and ``if TYPE_CHECKING:`` blocks. Imports inside functions run only
when called (they are how a command imports TensorFlow late) and are not edges here.
"""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import keras_i2i

ROOT = Path(keras_i2i.__file__).parent
HEAVY = ("tensorflow", "keras", "tf_keras", "tf2onnx")


def _modules() -> dict[str, Path]:
    """Every module under keras_i2i (packages by their ``__init__.py``), found on disk."""
    found = {"keras_i2i": ROOT / "__init__.py"}

    def walk(folder: Path, prefix: str) -> None:
        for info in pkgutil.iter_modules([str(folder)]):
            name = f"{prefix}.{info.name}"
            if info.ispkg:
                found[name] = folder / info.name / "__init__.py"
                walk(folder / info.name, name)
            else:
                found[name] = folder / f"{info.name}.py"

    walk(ROOT, "keras_i2i")
    return found


MODULES = _modules()


def _module_level_imports(tree: ast.Module):
    """Import statements that run when the module is imported."""

    def visit(nodes):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                yield from visit(node.orelse)
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node
            yield from visit(ast.iter_child_nodes(node))

    yield from visit(tree.body)


def _targets(module: str, node) -> set[str]:
    """The modules an import statement names (``from pkg import sub`` names ``pkg.sub``
    when that is a module, else ``pkg``), absolute."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:
        package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    names = {f"{base}.{alias.name}" for alias in node.names}
    return {n for n in names if n in MODULES} | ({base} if names - set(MODULES) else set())


def _graph() -> dict[str, set[str]]:
    """Module -> the modules (ours and third-party top-level names) it imports at module level."""
    graph = {}
    for module, path in MODULES.items():
        edges = set()
        for node in _module_level_imports(ast.parse(path.read_text(), str(path))):
            for target in _targets(module, node):
                edges.add(target if target.startswith("keras_i2i") else target.split(".")[0])
        graph[module] = edges - {module}
    return graph


GRAPH = _graph()


def _ours(name: str) -> str | None:
    """``name`` or its closest enclosing module of ours (``keras_i2i.x.CONST`` -> ``keras_i2i.x``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _reach(start: str) -> dict[str, str]:
    """Everything importing ``start`` runs (its parent packages too), each with the module
    that imports it."""
    seen, todo = {start: ""}, [start]
    while todo:
        module = todo.pop()
        for target in [*GRAPH.get(module, ()), *_parents(module)]:
            target = _ours(target) or target
            if target not in seen:
                seen[target] = module
                if target in MODULES:
                    todo.append(target)
    return seen


def _path(seen: dict[str, str], end: str) -> str:
    chain = [end]
    while seen[chain[-1]]:
        chain.append(seen[chain[-1]])
    return " -> ".join(reversed(chain))


def test_the_walk_finds_the_package():
    assert {"keras_i2i.cli", "keras_i2i.runtime", "keras_i2i.runtime.translator", "keras_i2i.training.trainer",
            "keras_i2i.apps.webcam.loop"} <= set(MODULES)
    assert "tensorflow" in GRAPH["keras_i2i.training.trainer"]


def test_no_import_circle():
    ours = {m: {_ours(t) for t in targets if t.startswith("keras_i2i")} - {None, m} for m, targets in GRAPH.items()}
    state, stack, circles = {}, [], []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in sorted(ours[module]):
            if state.get(target) == "open":
                circles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(ours):
        if module not in state:
            visit(module)
    assert not circles, "module-level import circles:\n" + "\n".join(circles)


def test_runtime_imports_no_tensorflow():
    for module in [m for m in MODULES if m == "keras_i2i.runtime" or m.startswith("keras_i2i.runtime.")]:
        seen = _reach(module)
        heavy = [name for name in seen if name.split(".")[0] in HEAVY]
        assert not heavy, f"{module} imports {heavy[0]}: {_path(seen, heavy[0])}"


def test_only_the_cli_and_training_import_training():
    allowed = {"keras_i2i.cli"}
    for module, targets in GRAPH.items():
        if module in allowed or module == "keras_i2i.training" or module.startswith("keras_i2i.training."):
            continue
        bad = sorted(t for t in targets if t == "keras_i2i.training" or t.startswith("keras_i2i.training."))
        assert not bad, f"{module} imports {bad[0]} at module level; import it where it is used, or move what it needs"
