"""The package layout keeps the pipeline's layers: imports only point down, never in a cycle."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "attester"

# Lowest first. A part may import from its own layer's part or any lower layer, never higher;
# parts that share a layer do not import each other (verification never imports a watcher).
LAYERS: list[set[str]] = [
    {"errors", "__version__", "display", "data"},
    {"jsonio", "hashing", "plugins", "digests", "distnames"},
    {"model", "clients", "parallel"},
    {"snapshot", "sbom", "checksums", "signing", "ghaction"},
    {"stores"},
    {"watchers", "verify"},
    {"release"},
    {"cli"},
    {"__main__"},
]
LEVEL = {part: i for i, layer in enumerate(LAYERS) for part in layer}

# Inside verify/, lowest first, the pipeline read -> authenticate -> check seen from below:
# the requirement checks (checks/) know nothing of signatures; Sigstore's authentication
# (sigstore/) returns their Check and hands certificates to their identity policy; the
# reader (document) only classifies, asking sigstore/ which bundles a key signs; each
# form's verifier uses all three; the pipeline (checker) reads a document and dispatches
# it to its form; the sources of many documents (a batch, an image, GitHub's API, a PyPI
# release) call the pipeline. A module may import its own layer's modules (never in a
# cycle, see below).
VERIFY_LAYERS: list[set[str]] = [
    {"checks"},
    {"sigstore"},
    {"document"},
    {"envelope", "jsonl", "npm_attestations", "pep740", "gcb_provenance", "cosign_signatures"},
    {"checker"},
    {"batch", "github_attestations", "image", "pypi_release"},
]
VERIFY_LEVEL = {part: i for i, layer in enumerate(VERIFY_LAYERS) for part in layer}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "attester"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    name = ".".join(rel.parts)
    return name.removesuffix(".__init__")


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imports(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("attester"):
            for a in node.names:  # `from pkg import module` names the module itself
                sub = f"{node.module}.{a.name}"
                found.add(sub if _is_module(sub) else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("attester."))
    return found


def test_every_part_has_a_layer() -> None:
    parts = {p.stem if p.suffix == ".py" else p.name for p in PACKAGE.iterdir()
             if p.name != "__pycache__" and p.name != "__init__.py"}
    assert parts - set(LEVEL) == set(), "place new top-level modules in LAYERS"


def test_imports_only_point_down() -> None:
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        src = _part(_module_name(path))
        if src == "attester":
            continue
        for target in _imports(path, top_level_only=False):
            dst = _part(target)
            if dst in ("attester", src):
                continue
            if LEVEL[dst] >= LEVEL[src]:
                wrong.append(f"{_module_name(path)} imports {target}")
    assert wrong == []


def _verify_part(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "verify" else None


def test_every_verify_module_has_a_layer() -> None:
    verify = PACKAGE / "verify"
    parts = {p.stem if p.suffix == ".py" else p.name for p in verify.iterdir()
             if (p.suffix == ".py" or (p / "__init__.py").exists()) and p.name != "__init__.py"}
    assert parts - set(VERIFY_LEVEL) == set(), "place new verify/ modules in VERIFY_LAYERS"


def test_verify_imports_point_down() -> None:
    """checks/ imports nothing of sigstore/ or above; sigstore/ nothing of the forms or the
    pipeline; the forms never the pipeline (lazy imports counted)."""
    wrong = []
    for path in (PACKAGE / "verify").rglob("*.py"):
        src = _verify_part(_module_name(path))
        if src is None:
            continue
        for target in _imports(path, top_level_only=False):
            dst = _verify_part(target)
            if dst is None or dst == src:
                continue
            if VERIFY_LEVEL[dst] > VERIFY_LEVEL[src]:
                wrong.append(f"{_module_name(path)} imports {target}")
    assert wrong == []


@pytest.mark.parametrize("top_level_only", [True, False], ids=["module-level", "any-import"])
def test_no_import_cycles_between_modules(top_level_only: bool) -> None:
    """No module reaches itself through imports, counting the imports inside functions
    too (a lazy import still ties two modules together: bundles -> policy -> certpolicy ->
    bundles was one)."""
    graph: dict[str, set[str]] = defaultdict(set)
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    for name, path in modules.items():
        graph[name] = {t for t in _imports(path, top_level_only=top_level_only)
                       if t in modules and t != name}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError(" -> ".join([*stack, node, nxt]))
            if nxt not in state:
                visit(nxt, [*stack, node])
        state[node] = 2

    for node in list(graph):
        if node not in state:
            visit(node, [])
