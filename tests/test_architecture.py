"""The package's shape, enforced: layers that import one way, no import cycles, no model
known by its name outside models/, and modules and functions of a readable size.

The layers (README, "Design") form a line; a module may import its own layer and those
below it, never one above, at the top of the file or inside a function:

    base (errors, utils, audio, stats, table_models)
      <- corpora <- features <- models <- training <- evaluation <- inference
      <- view <- recipes (reproduce, audit, cli)
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from depscreen.models import list_models

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "depscreen"

LAYERS: list[tuple[str, set[str]]] = [
    ("base", {"depscreen", "errors", "utils", "audio", "stats", "table_models"}),
    ("corpora", {"corpora"}),
    ("features", {"features"}),
    ("models", {"models"}),
    ("training", {"training"}),
    ("evaluation", {"evaluation"}),
    ("inference", {"inference"}),
    ("view", {"view"}),
    ("recipes", {"reproduce", "audit", "cli"}),
]
MAX_MODULE_LINES = 500
LONG_MODULE_MARK = "Long module:"  # the module docstring says why it is longer
MAX_FUNCTION_BODY_LINES = 80


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules `name` imports anywhere in its file (function-level too).

    `from a.b import c` counts as importing `a.b.c` when that is a module, else `a.b`. A
    package's own `__init__` run by importing one of its submodules is not counted: it is
    not a dependency the importing code chose."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            subs = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in known]
            if subs:
                found.update(subs)
                if len(subs) < len(node.names) and module in known:
                    found.add(module)
            elif module in known:
                found.add(module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else module
    for rank, (_, members) in enumerate(LAYERS):
        if top in members:
            return rank
    raise AssertionError(f"{module}: not in any layer; add its top-level name to LAYERS")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_module_belongs_to_a_layer():
    for module in _modules():
        _layer(module)


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_lower_layers_never_import_higher_ones():
    upward = [f"{a} ({LAYERS[_layer(a)][0]}) imports {b} ({LAYERS[_layer(b)][0]})"
              for a, targets in sorted(_graph().items()) for b in sorted(targets)
              if _layer(b) > _layer(a)]
    assert upward == []


def test_the_checks_catch_a_cycle_and_an_upward_import():
    graph = {"depscreen.a": {"depscreen.b"}, "depscreen.b": {"depscreen.a"}, "depscreen.c": set()}
    assert _cycles(graph) == [["depscreen.a", "depscreen.b"]]
    assert _layer("depscreen.training.run") > _layer("depscreen.models.base")


# ----------------------------------------------------------------------------- model names

# Parts of model names that test for a kind of model when matched as a substring
# (`"fusion" in name`); modality and representation words are legitimate elsewhere.
NAME_PARTS = {"fusion", "lstm", "bilstm", "cnn", "stacked", "tfidf"}


def _model_name_tests(tree: ast.AST, names: set[str]) -> list[tuple[int, str]]:
    """(line, literal) of comparisons against model names, substring tests of name parts,
    and f-strings that assemble a model name (`f"lstm-cnn-{m}"`)."""
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op in operands:
                elts = op.elts if isinstance(op, ast.Tuple | ast.List | ast.Set) else [op]
                for e in elts:
                    if isinstance(e, ast.Constant) and isinstance(e.value, str) and (
                        e.value in names or (e is node.left and e.value in NAME_PARTS
                                             and isinstance(node.ops[0], ast.In | ast.NotIn))
                    ):
                        hits.append((node.lineno, e.value))
        elif isinstance(node, ast.JoinedStr):
            for part in node.values:
                if (isinstance(part, ast.Constant) and isinstance(part.value, str)
                        and part.value.endswith("-")
                        and any(n.startswith(part.value) for n in names)):
                    hits.append((node.lineno, part.value))
    return hits


def test_no_module_outside_models_knows_a_model_by_its_name():
    names = set(list_models())
    found = []
    for module, path in _modules().items():
        if module.startswith("depscreen.models"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{module}:{line}: {lit!r}" for line, lit in _model_name_tests(tree, names)]
    assert found == [], "ask the model class (models/base.py, model_info) instead"


@pytest.mark.parametrize("code", [
    'if cfg.model == "bilstm-cnn-fusion": pass',
    'batch = 50 if "fusion" in name else 30',
    'ok = model in ("decision-fusion", "stacked-fusion")',
    'run = f"lstm-cnn-{modality}"',
])
def test_the_name_check_catches_special_cases(code):
    assert _model_name_tests(ast.parse(code), set(list_models()))


def test_the_name_check_allows_ordinary_code():
    code = ('if fusion == "decision" and "text" in use and speech == "egemaps": pass\n'
            'label = f"{model} seed {seed}"')
    assert _model_name_tests(ast.parse(code), set(list_models())) == []


# ----------------------------------------------------------------------------- sizes


def _body_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the first statement after the docstring to the end (a command's long
    option signature is declarations, not logic)."""
    body = fn.body
    first = body[1] if (len(body) > 1 and isinstance(body[0], ast.Expr)
                        and isinstance(body[0].value, ast.Constant)) else body[0]
    return fn.end_lineno - first.lineno + 1


def test_modules_are_short_or_say_why():
    long = []
    for module, path in _modules().items():
        text = path.read_text(encoding="utf-8")
        n = len(text.splitlines())
        doc = ast.get_docstring(ast.parse(text)) or ""
        if n > MAX_MODULE_LINES and LONG_MODULE_MARK not in doc:
            long.append(f"{module}: {n} lines")
    assert long == [], f"split them, or give the reason in the docstring ({LONG_MODULE_MARK})"


def test_functions_are_short():
    long = []
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = _body_lines(node)
                if n > MAX_FUNCTION_BODY_LINES:
                    long.append(f"{module}.{node.name}: {n} lines")
    assert long == []


def test_graph_sees_function_level_imports(tmp_path):
    code = "def f():\n    from depscreen.training.run import train\n"
    path = tmp_path / "x.py"
    path.write_text(code)
    known = {"depscreen.training.run", "depscreen.training"}
    assert _imports("depscreen.models.x", path, known) == {"depscreen.training.run"}


def test_layers_cover_the_package():
    tops = defaultdict(set)
    for module in _modules():
        tops[module.split(".")[1] if "." in module else module].add(module)
    named = set().union(*(members for _, members in LAYERS))
    assert set(tops) <= named
