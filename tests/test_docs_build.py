"""Unit tests of the offline docs build (cifar_tutorial.docs_build): fast, no browser, no full build."""
import json, os
import re
from pathlib import Path

import pytest

pytest.importorskip("smalldocs", reason="the offline docs build needs smalldocs, which needs Python 3.11+")
import yaml

import tomllib  # Python 3.11+, like smalldocs

from cifar_tutorial import docs_build as db

ROOT = Path(__file__).resolve().parents[1]
INFO = dict(owner="me", repo="course", branch="main", nbs="nbs", site_url="https://me.github.io/course/",
            repo_url="https://github.com/me/course")


def nb(*cells):
    return {"cells": list(cells), "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def md(s): return {"cell_type": "markdown", "metadata": {}, "source": s}
def raw(s): return {"cell_type": "raw", "metadata": {}, "source": s}
def code(s, outputs=()): return {"cell_type": "code", "metadata": {}, "source": s, "outputs": list(outputs), "execution_count": None}


def fake_proc(tmp_path, index_links="[T](00_tensors.ipynb)"):
    "A folder shaped like nbdev's _proc/: config files and processed notebooks with output-file."
    proc = tmp_path / "_proc"
    (proc / "api").mkdir(parents=True)
    quarto = yaml.safe_load((ROOT / "nbs" / "_quarto.yml").read_text())
    (proc / "_quarto.yml").write_text(yaml.safe_dump(quarto))
    (proc / "nbdev.yml").write_text(yaml.safe_dump({"project": {"output-dir": "_docs"}, "website": {"title": "t"},
                                                   "format-links": ["html", {"format": "commonmark", "text": "Markdown"}]}))
    (proc / "sidebar.yml").write_text(yaml.safe_dump({"website": {"sidebar": {"contents": ["index.ipynb", "00_tensors.ipynb",
                                                     {"section": "api", "contents": ["api/data.ipynb"]}]}}}))
    (proc / "styles.css").write_text("")
    fm = lambda t, o: raw(f"---\ntitle: {t}\noutput-file: {o}\n---\n")
    (proc / "index.ipynb").write_text(json.dumps(nb(fm("Home", "index.html"), md(f"Go to {index_links}."))))
    png = {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "text/plain": "<Figure>"}}
    (proc / "00_tensors.ipynb").write_text(json.dumps(nb(fm("Tensors", "tensors.html"), md("See [data](api/data.ipynb)."), code("plot()", [png]))))
    (proc / "api" / "data.ipynb").write_text(json.dumps(nb(fm("data", "data.html"), md("Back to [the first lesson](../00_tensors.ipynb#top)."))))
    return proc


def test_colab_url_comes_from_pyproject():
    info = db.repo_info(ROOT)
    repo = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"].rstrip("/")
    assert info["repo_url"] == repo
    owner_repo = repo.split("github.com/")[1]
    assert db.colab_url("04_cifar_classifier.ipynb", info) == \
        f"https://colab.research.google.com/github/{owner_repo}/blob/{info['branch']}/nbs/04_cifar_classifier.ipynb"


def test_quarto_yml_links_match_pyproject():
    "The GitHub links written in _quarto.yml are the Repository URL of pyproject.toml."
    repo = db.repo_info(ROOT)["repo_url"]
    text = (ROOT / "nbs" / "_quarto.yml").read_text()
    gh = set(re.findall(r"https://github\.com/[^\s\"']+", text))
    assert gh and gh == {repo}, f"_quarto.yml links to {gh}, pyproject.toml says {repo}: change both"


def test_navbar_lists_the_six_lessons():
    cfg = yaml.safe_load((ROOT / "nbs" / "_quarto.yml").read_text())
    hrefs = [h for h, _ in db.navbar_lessons(cfg)]
    assert len(hrefs) == 6 and all(db.is_lesson(h) for h in hrefs), hrefs


def test_rewrite_links():
    r = {"00_tensors.ipynb": "tensors.ipynb"}
    assert db.rewrite_links("[a](00_tensors.ipynb#x)", "index.ipynb", r) == "[a](tensors.ipynb#x)"
    assert db.rewrite_links("[a](../00_tensors.ipynb)", "api/data.ipynb", r) == "[a](../tensors.ipynb)"
    assert db.rewrite_links("[a](/00_tensors.ipynb)", "api/data.ipynb", r) == "[a](/tensors.ipynb)"
    assert db.rewrite_links("[a](https://me.github.io/course/api/data.html#f)", "x.ipynb", r, INFO["site_url"]) == "[a](/api/data.ipynb#f)"
    assert db.rewrite_links("[a](https://colab.research.google.com/x)", "x.ipynb", r) == "[a](https://colab.research.google.com/x)"


def test_output_names_refuses_two_notebooks_for_one_page(tmp_path):
    (tmp_path / "00_a.ipynb").write_text(json.dumps(nb(raw("---\noutput-file: a.html\n---\n"))))
    (tmp_path / "a.ipynb").write_text(json.dumps(nb(raw("---\noutput-file: a.html\n---\n"))))
    with pytest.raises(ValueError, match="same page"):
        db.output_names(tmp_path)


def test_prepare_bridges_nbdev_to_smalldocs(tmp_path):
    proc = fake_proc(tmp_path)
    nbs = tmp_path / "nbs"; nbs.mkdir()
    (nbs / "00_tensors.ipynb").write_text("{}")  # this lesson exists, the others get placeholders
    done = db.prepare(proc, tmp_path / "work", tmp_path / "_docs", INFO, nbs)
    work = tmp_path / "work"
    assert (work / "tensors.ipynb").exists() and not (work / "00_tensors.ipynb").exists()
    assert sorted(done["stubs"]) == ["01_autograd.ipynb", "02_nn_module.ipynb", "03_sgd.ipynb", "04_cifar_classifier.ipynb", "05_gpu.ipynb"]
    assert (work / "gpu.qmd").exists()
    lesson = json.loads((work / "tensors.ipynb").read_text())
    assert "output-file" not in lesson["cells"][0]["source"]
    assert "colab-badge" in lesson["cells"][1]["source"] and "blob/main/nbs/00_tensors.ipynb" in lesson["cells"][1]["source"]
    assert db.read_stamp(lesson) and "not recorded" in db.read_stamp(lesson)  # outputs but no stamp: the page says so
    assert done["unstamped"] == ["00_tensors.ipynb"]
    home = json.loads((work / "index.ipynb").read_text())
    assert "[T](tensors.ipynb)" in home["cells"][1]["source"] and db.read_stamp(home) is None  # no outputs, no stamp
    data = json.loads((work / "api" / "data.ipynb").read_text())
    assert "../tensors.ipynb#top" in data["cells"][1]["source"]
    cfg = yaml.safe_load((work / "_quarto.yml").read_text())
    assert "keep-md" not in cfg["format"]["html"] and "commonmark" not in cfg["format"]
    assert cfg["website"]["navbar"]["left"][0]["href"] == "tensors.ipynb"
    assert "format-links" not in yaml.safe_load((work / "nbdev.yml").read_text())
    assert "tensors.ipynb" in (work / "sidebar.yml").read_text()
    assert not (proc / "tensors.ipynb").exists(), "nbdev's _proc cache must not be changed"


def render(work):
    from smalldocs.cli import main
    return main(["render", "--strict", "--quiet", str(work)])


def test_smalldocs_strict_passes_on_the_prepared_project(tmp_path):
    proc = fake_proc(tmp_path)
    db.prepare(proc, tmp_path / "work", tmp_path / "_docs", INFO, tmp_path / "nbs")
    assert render(tmp_path / "work") == 0
    html = (tmp_path / "_docs" / "index.html").read_text()
    assert 'href="tensors.html"' in html
    assert (tmp_path / "_docs" / "api" / "data.html").exists()
    assert not [p for p in db.check_site(tmp_path / "_docs", tmp_path / "work", ROOT, {}) if "picture" in p]


def test_the_build_fails_on_a_broken_link(tmp_path):
    proc = fake_proc(tmp_path, index_links="[T](00_tensors.ipynb) and [gone](no_such_page.ipynb)")
    db.prepare(proc, tmp_path / "work", tmp_path / "_docs", INFO, tmp_path / "nbs")
    assert render(tmp_path / "work") == 1


def test_check_site_finds_missing_pictures(tmp_path):
    proc = fake_proc(tmp_path)
    db.prepare(proc, tmp_path / "work", tmp_path / "_docs", INFO, tmp_path / "nbs")
    assert render(tmp_path / "work") == 0
    page = tmp_path / "_docs" / "tensors.html"
    page.write_text(re.sub(r'<img[^>]*>', "", page.read_text()))
    problems = [p for p in db.check_site(tmp_path / "_docs", tmp_path / "work", ROOT, {}) if "picture" in p]
    assert problems and "tensors.ipynb" in problems[0]


def test_stamp_roundtrip():
    env = dict(torch="2.14.1", cuda="12.8", gpus=["NVIDIA H100 80GB HBM3"], ngpu=1, cpu="Xeon", cores=16,
               python="3.11.2", system="Linux x86_64", date="2025-11-26")
    text = db.stamp_text(env)
    assert text.startswith(db.STAMP_MARKER) and "torch 2.14.1" in text and "NVIDIA H100 80GB HBM3 (CUDA 12.8)" in text
    n = db.set_stamp(db.set_stamp(nb(code("1")), text), text)
    assert len(n["cells"]) == 2 and "torch 2.14.1" in db.read_stamp(n)


def test_run_notebook_records_the_kernels_torch(tmp_path):
    "The stamp comes from the kernel that ran the cells."
    import torch
    p = tmp_path / "t.ipynb"
    p.write_text(json.dumps(nb(code("x = 1 + 1\nx"))))
    text = db.run_notebook(p, timeout=120)
    saved = json.loads(p.read_text())
    assert saved["cells"][0]["outputs"], "the notebook was executed"
    assert f"torch {torch.__version__}" in db.read_stamp(saved) and f"torch {torch.__version__}" in text
    assert len(saved["cells"]) == 2  # the probe cell is gone, the stamp is last


def test_run_notebook_keeps_figures_and_collapses_progress_bars(tmp_path, monkeypatch):
    "Saved outputs show the figure even under MPLBACKEND=Agg, and a progress bar as its final state only."
    monkeypatch.setenv("MPLBACKEND", "Agg")
    p = tmp_path / "t.ipynb"
    p.write_text(json.dumps(nb(code("import sys, matplotlib.pyplot as plt"),
                               code("for i in range(3): print(f'\\rstep {i}', end='', flush=True)\n"
                                    "print('\\r' + ' ' * 20 + '\\r', end='')\nprint('done')"),
                               code("plt.plot([1, 2, 3]);"))))
    db.run_notebook(p, timeout=120)
    cells = json.loads(p.read_text())["cells"]
    streams = [o for o in cells[1]["outputs"] if o["output_type"] == "stream"]
    assert len(streams) == 1 and "".join(streams[0]["text"]) == "done\n", streams
    assert any("image/png" in o.get("data", {}) for o in cells[2]["outputs"]), cells[2]["outputs"]
    assert os.environ["MPLBACKEND"] == "Agg"   # the caller's setting is back


def test_run_notebook_rejects_a_non_notebook(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a notebook"):
        db.run_notebook(tmp_path / "missing.ipynb")


def test_readme_sync(tmp_path):
    (tmp_path / "nbs").mkdir()
    (tmp_path / "pyproject.toml").write_text("[tool.nbdev]\n")
    (tmp_path / "nbs" / "index.ipynb").write_text(json.dumps(nb(md("# course\n\n> learn"), md("## Map\n\n[T](00_tensors.ipynb)"))))
    (tmp_path / "README.md").write_text("# course\n\n> learn\n\n## Contributing\n\nhooks\n")
    assert db.sync_readme(tmp_path, check=True) == ["## Map"]
    assert db.sync_readme(tmp_path) == ["## Map"]
    text = (tmp_path / "README.md").read_text()
    assert "[T](nbs/00_tensors.ipynb)" in text and "## Contributing\n\nhooks" in text
    assert text.index("## Map") < text.index("## Contributing")
    assert db.sync_readme(tmp_path, check=True) == []
