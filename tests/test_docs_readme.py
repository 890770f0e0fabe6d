"""README.md carries every section of nbs/index.ipynb (nbdev-readme needs Quarto, so this checks it offline with the
contributor tool tools/docs_build.py)."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _sync_readme():
    spec = importlib.util.spec_from_file_location("tools_docs_build", ROOT / "tools" / "docs_build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.sync_readme


def test_readme_matches_index():
    if not (ROOT / "README.md").exists():
        pytest.skip("README.md is not written yet")
    diff = _sync_readme()(ROOT, check=True)
    assert not diff, (f"README.md differs from nbs/index.ipynb in {diff}. Run `python tools/docs_build.py readme` "
                      "(it copies the home page's sections into README.md and keeps README-only sections), review and commit.")
