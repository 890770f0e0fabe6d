"""README.md carries every section of nbs/index.ipynb (nbdev-readme needs Quarto, so this checks it offline)."""
from pathlib import Path

import pytest

from cifar_tutorial.docs_build import sync_readme

ROOT = Path(__file__).resolve().parents[1]


def test_readme_matches_index():
    if not (ROOT / "README.md").exists():
        pytest.skip("README.md is not written yet")
    diff = sync_readme(ROOT, check=True)
    assert not diff, (f"README.md differs from nbs/index.ipynb in {diff}. Run `python -m cifar_tutorial.docs_build readme` "
                      "(it copies the home page's sections into README.md and keeps README-only sections), review and commit.")
