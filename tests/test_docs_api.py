"""The API reference (docs/api.rst) lists every public module, one line each, so a new module
gets its page by adding that line (the docs build itself runs in CI, see .ci/run)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "cs231n_fast"
API = ROOT / "docs" / "api.rst"

#: Modules documented elsewhere or not public: the CLI entry point, the old name of the bench
#: package (it re-exports cs231n_fast.bench), and the bench package's per-family case modules
#: (described in its docstring).
NOT_LISTED = {"cs231n_fast.__main__", "cs231n_fast.benchmarking"}
NOT_LISTED_UNDER = ("cs231n_fast.bench.",)
BENCH_LISTED = {"cs231n_fast.bench.runner", "cs231n_fast.bench.timing",
                "cs231n_fast.bench.results", "cs231n_fast.bench.report",
                "cs231n_fast.bench.cases", "cs231n_fast.bench.machine"}


def _public_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if any(p.startswith("_") and p != "__init__" for p in parts):
            continue  # private modules and packages (_ext, _validation, ...)
        if parts[-1] == "__init__":
            if len(parts) > 2:
                continue  # subpackages are documented through their modules
            parts = parts[:-1]
        yield ".".join(parts)


def _listed():
    return {line.strip() for line in API.read_text(encoding="utf-8").splitlines()
            if line.strip().startswith("cs231n_fast")}


@pytest.mark.skipif(not API.exists(), reason="docs/ is not shipped in the sdist")
def test_every_public_module_has_an_api_page():
    listed = _listed()
    missing = [m for m in _public_modules()
               if m not in NOT_LISTED and not m.startswith(NOT_LISTED_UNDER) and m not in listed]
    assert not missing, f"add these to docs/api.rst: {missing}"
    assert BENCH_LISTED <= listed


@pytest.mark.skipif(not API.exists(), reason="docs/ is not shipped in the sdist")
def test_api_lists_only_modules_that_exist():
    stale = [m for m in _listed()
             if not (PACKAGE.parent / (m.replace(".", "/") + ".py")).exists()
             and not (PACKAGE.parent / m.replace(".", "/") / "__init__.py").exists()]
    assert not stale, f"docs/api.rst lists modules that do not exist: {stale}"
