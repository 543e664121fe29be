"""Packages depend one way: minigrad < models < training < attacks < benchmarks.

A package may import the packages before it in ``ORDER`` and never one after it, so
each layer can be read, tested and reused without the ones above. Every import is
counted, including those inside functions (a deferred import is still a dependency,
and the easiest way to hide a cycle), and relative imports are resolved to the
package they name.
"""

from __future__ import annotations

import ast
from pathlib import Path

ORDER = ("minigrad", "models", "training", "attacks", "benchmarks")
ROOT = Path(__file__).resolve().parent.parent


def imported_packages(path: Path, package_parts: tuple) -> list:
    """``(line, dotted module name)`` for every import in the file, relative ones resolved."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from .x import y: relative to the file's own package
                base = package_parts[: len(package_parts) - node.level + 1]
                found.append((node.lineno, ".".join([*base, *([node.module] if node.module else [])])))
            elif node.module:
                found.append((node.lineno, node.module))
    return found


def upward_imports(root: Path = ROOT, order=ORDER) -> list:
    """``"file:line imports name (layer above package)"`` for each import against ``order``."""
    rank = {name: i for i, name in enumerate(order)}
    problems = []
    for package in order:
        for path in sorted((root / package).rglob("*.py")):
            package_parts = path.relative_to(root).parts[:-1]  # the package the file is in
            for line, name in imported_packages(path, package_parts):
                top = name.split(".")[0]
                if top in rank and rank[top] > rank[package]:
                    where = path.relative_to(root)
                    problems.append(f"{where}:{line} imports {name}, but {top} is above {package} in {' < '.join(order)}")
    return problems


def test_packages_import_only_the_layers_below_them():
    problems = upward_imports()
    assert not problems, "imports against the layer order:\n" + "\n".join(problems)


def test_the_check_finds_function_level_and_relative_imports(tmp_path):
    """The checker itself: an upward import hidden in a function, and one written relatively."""
    (tmp_path / "low").mkdir()
    (tmp_path / "low" / "__init__.py").write_text("")
    (tmp_path / "low" / "mod.py").write_text("import os\n\ndef f():\n    from high.x import y\n    return y\n")
    (tmp_path / "high").mkdir()
    (tmp_path / "high" / "__init__.py").write_text("from ..low import mod\n")
    (tmp_path / "high" / "x.py").write_text("from low import mod\nfrom . import y\n")
    problems = upward_imports(tmp_path, ("low", "high"))
    assert problems == ["low/mod.py:4 imports high.x, but high is above low in low < high"]
