"""Unit tests of the contributor tool tools/docs_build.py (the offline docs build) and of the doc processors it shares
with the published site (cifar_tutorial/_nbdev_procs.py): fast, no browser, no full build."""
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _needs(module, why):
    "Import `module`, or skip, except under CI, where a missing tool is a failure, never a silent skip."
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail(f"{module} is missing ({why}); CI installs the dev extra, so this is a failure", pytrace=False)
        pytest.skip(f"{module} is missing: {why}", allow_module_level=True)


_needs("smalldocs", "the offline docs build needs smalldocs, which needs Python 3.11+")
import tomllib  # noqa: E402 - Python 3.11+, like smalldocs
import yaml  # noqa: E402
from fastcore.nbio import dict2nb  # noqa: E402

from cifar_tutorial import _nbdev_procs as procs  # noqa: E402


def load_tool(name):
    "Import tools/<name>.py (tools/ is a folder of scripts, not a package)."
    spec = importlib.util.spec_from_file_location(f"tools_{name}", ROOT / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


db = load_tool("docs_build")
INFO = dict(owner="me", repo="course", branch="main", nbs="nbs", site_url="https://me.github.io/course/",
            repo_url="https://github.com/me/course")


def nb(*cells):
    return {"cells": list(cells), "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def md(s): return {"cell_type": "markdown", "metadata": {}, "source": s}
def raw(s): return {"cell_type": "raw", "metadata": {}, "source": s}
def code(s, outputs=()): return {"cell_type": "code", "metadata": {}, "source": s, "outputs": list(outputs), "execution_count": None}


PNG = {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "text/plain": "<Figure>"}}
BADGE = md('<a class="colab-badge" href="https://colab.research.google.com/github/me/course/blob/main/nbs/00_tensors.ipynb">Open in Colab</a>')


def fake_proc(tmp_path, index_links="[T](00_tensors.ipynb)", badge=True):
    "A folder shaped like nbdev's _proc/: config files and processed notebooks with output-file (and the badge nbdev-proc-nbs adds)."
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
    cells = [fm("Tensors", "tensors.html"), *([BADGE] if badge else []), md("See [data](api/data.ipynb)."),
             code('#| fig-alt: "a dot"\nplot()', [PNG])]
    (proc / "00_tensors.ipynb").write_text(json.dumps(nb(*cells)))
    (proc / "api" / "data.ipynb").write_text(json.dumps(nb(fm("data", "data.html"), md("Back to [the first lesson](../00_tensors.ipynb#top)."),
                                                          md("Pixels in $[0, 1]$, and $$w \\leftarrow w - \\text{lr}\\, g$$"))))
    return proc


# ---- where things are

def test_the_docs_build_is_not_in_the_package():
    "A contributor tool: tools/, not the package learners install, and no page on the learners' site."
    assert (ROOT / "tools" / "docs_build.py").exists()
    assert not (ROOT / "cifar_tutorial" / "docs_build.py").exists()
    assert not list((ROOT / "nbs").rglob("docs_build*.ipynb"))
    assert "docs_build" not in (ROOT / "cifar_tutorial" / "_modidx.py").read_text()


def test_the_sidebar_lists_only_learner_pages():
    "nbdev writes the sidebar from the notebooks in nbs/: the home page, the lessons, their solutions, the API."
    from nbdev.doclinks import nbglob
    pages = [Path(f).relative_to(ROOT / "nbs").as_posix() for f in nbglob(ROOT / "nbs", file_re=r"\.(?:ipynb|qmd|md)$")]
    assert pages and "index.ipynb" in pages
    for p in pages:
        learner = p in ("index.ipynb", "ko/index.ipynb", "ko/glossary.ipynb") or procs.wants_badge(p) or p.startswith("api/")
        assert learner, f"{p}: a page the sidebar lists that is not for learners"
        text = (ROOT / "nbs" / p).read_text(encoding="utf-8")
        assert "for contributors, not learners" not in text, f"{p} says it is for contributors: move it to tools/ or CONTRIBUTING.md"


def test_nbdev_runs_the_doc_processors():
    "pyproject.toml names the processors, so nbdev-proc-nbs (nbdev-docs and `make docs`) runs them for both builds."
    from nbdev.processors import FilterDefaults
    names = {p.__name__ for p in FilterDefaults().xtra_procs()}
    assert {"ColabBadge", "ClassSignatures", "FigureAlt"} <= names


def test_colab_url_comes_from_pyproject():
    info = db.repo_info(ROOT)
    repo = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"].rstrip("/")
    assert info["repo_url"] == repo
    owner_repo = repo.split("github.com/")[1]
    assert procs.colab_url("04_cifar_classifier.ipynb", info) == \
        f"https://colab.research.google.com/github/{owner_repo}/blob/{info['branch']}/nbs/04_cifar_classifier.ipynb"


def test_quarto_yml_links_match_pyproject():
    "The GitHub links written in _quarto.yml are the Repository URL of pyproject.toml."
    repo = db.repo_info(ROOT)["repo_url"]
    text = (ROOT / "nbs" / "_quarto.yml").read_text()
    gh = set(re.findall(r"https://github\.com/[^\s\"']+", text))
    assert gh and gh == {repo}, f"_quarto.yml links to {gh}, pyproject.toml says {repo}: change both"


def test_navbar_lists_the_seven_lessons():
    "00-05 and the optional 06."
    cfg = yaml.safe_load((ROOT / "nbs" / "_quarto.yml").read_text())
    hrefs = [h for h, _ in db.navbar_lessons(cfg)]
    assert len(hrefs) == 7 and all(db.wants_badge(h) and "/" not in h for h in hrefs), hrefs


def test_quarto_renders_maths_without_a_script():
    "The published site gets MathML from Pandoc at build time, not KaTeX or MathJax from a CDN; code wraps."
    html = yaml.safe_load((ROOT / "nbs" / "_quarto.yml").read_text())["format"]["html"]
    assert html["html-math-method"] == "mathml" and html["code-overflow"] == "wrap"


# ---- the doc processors (cifar_tutorial/_nbdev_procs.py)

def test_badge_pages():
    assert procs.wants_badge("03_sgd.ipynb") and procs.wants_badge("solutions/03_sgd_solutions.ipynb")
    assert not procs.wants_badge("index.ipynb") and not procs.wants_badge("api/00_core.ipynb") and not procs.wants_badge("api/data.ipynb")


def _project(tmp_path):
    "A tiny nbdev project: pyproject.toml with a repository URL, nbs/ with a lesson, a solution and an API page."
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "course"\nversion = "0.1"\n[project.urls]\nRepository = "https://github.com/me/course"\n'
        '[tool.nbdev]\njupyter_hooks = false\n')
    for rel in ("03_sgd.ipynb", "solutions/03_sgd_solutions.ipynb", "api/data.ipynb"):
        (tmp_path / "nbs" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "nbs" / rel).write_text(json.dumps(nb(raw("---\ntitle: x\n---\n"), md("text"))))
    return tmp_path / "nbs"


def _run(proc_cls, path=None, cells=None):
    from fastcore.nbio import read_nb
    from nbdev.process import NBProcessor
    n = read_nb(path) if path else dict2nb(nb(*cells))
    NBProcessor(nb=n, procs=[proc_cls]).process()
    return n


def test_colab_badge_on_lessons_and_solutions_only(tmp_path, monkeypatch):
    nbs = _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    lesson = _run(procs.ColabBadge, nbs / "03_sgd.ipynb")
    assert lesson.cells[0].cell_type == "raw" and "colab-badge" in lesson.cells[1].source  # after the front matter
    assert "github/me/course/blob/main/nbs/03_sgd.ipynb" in lesson.cells[1].source
    sol = _run(procs.ColabBadge, nbs / "solutions" / "03_sgd_solutions.ipynb")
    assert "blob/main/nbs/solutions/03_sgd_solutions.ipynb" in sol.cells[1].source
    api = _run(procs.ColabBadge, nbs / "api" / "data.ipynb")
    assert not any("colab-badge" in c.source for c in api.cells)
    again = _run(procs.ColabBadge, nbs / "03_sgd.ipynb")
    assert sum("colab-badge" in c.source for c in again.cells) == 1


def _showdoc(name, sig, src="https://github.com/me/course/blob/main/cifar_tutorial/data.py#L37"):
    text = f'---\n\n[source]({src}){{target="_blank"}}\n\n### {name}\n\n```python\n{sig}\n```\n\n*Doc.*'
    return {"output_type": "execute_result", "metadata": {}, "execution_count": 1, "data": {"text/markdown": text, "text/plain": sig}}


def test_classes_render_as_classes():
    "show_doc writes `def UnsafePickleError(*args, **kwargs)`; the processor writes the class, with its bases."
    out = _run(procs.ClassSignatures, cells=[
        code("class BadFile(ValueError):\n    'A bad file.'\n\nclass Box:\n    def __init__(self, size: int): pass\n\ndef f(x): pass"),
        code("show_doc(BadFile)", [_showdoc("BadFile", "def BadFile(\n    *args, **kwargs\n):", src="nowhere")]),
        code("show_doc(Box)", [_showdoc("Box", "def Box(\n    size:int\n):", src="nowhere")]),
        code("show_doc(f)", [_showdoc("f", "def f(\n    x\n):", src="nowhere")])])
    mds = [c.outputs[0]["data"]["text/markdown"] for c in out.cells[1:]]
    assert "```python\nclass BadFile(ValueError):\n```" in mds[0] and "*args" not in mds[0]
    assert "```python\nclass Box(\n    size:int\n):\n```" in mds[1]
    assert "```python\ndef f(\n    x\n):\n```" in mds[2]


def test_classes_are_found_in_the_package():
    "A class shown on another page than where it is defined is looked up through its source link."
    out = _run(procs.ClassSignatures, cells=[code("show_doc(UnsafePickleError)", [_showdoc("UnsafePickleError", "def UnsafePickleError(\n    *args, **kwargs\n):")])])
    text = out.cells[0].outputs[0]["data"]["text/markdown"]
    from cifar_tutorial.data import UnsafePickleError
    assert f"class UnsafePickleError({', '.join(b.__name__ for b in UnsafePickleError.__bases__)}):" in text


def test_figures_get_alt_text():
    out = _run(procs.FigureAlt, cells=[
        md("Sixteen test images, each titled *predicted (true)*:"),
        code("plot_predictions(net, dl, n=16);", [PNG]),
        code("ax.set_xlabel('step'); ax.set_ylabel('loss'); ax.set_title(f'run on {dev}')", [PNG]),
        code('#| fig-alt: "my own words"\nplt.plot(x)', [PNG]),
        code("x = 1")])
    srcs = [c.source for c in out.cells]
    assert re.match(r'#\| fig-alt: ".+"\n', srcs[1])   # from the function's docstring, or the sentence above
    assert srcs[2].startswith('#| fig-alt: "run on …: loss against step"\n')
    assert srcs[3].count("fig-alt") == 1 and srcs[4] == "x = 1"


def test_figure_alt_falls_back_to_the_sentence_above():
    assert procs.figure_alt("plot(x)", "Intro. A grid of **sixteen** [images](x.ipynb):") == "A grid of sixteen images"
    assert procs.figure_alt("show_batch(x, y, title='One batch')") == "One batch"
    assert procs.figure_alt("plot(x)") == "A figure"


# ---- the bridge from nbdev's _proc/ to smalldocs

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
    assert sorted(done["stubs"]) == ["01_autograd.ipynb", "02_nn_module.ipynb", "03_sgd.ipynb", "04_cifar_classifier.ipynb", "05_gpu.ipynb", "06_going_fast.ipynb"]
    assert (work / "gpu.qmd").exists()
    lesson = json.loads((work / "tensors.ipynb").read_text())
    assert "output-file" not in lesson["cells"][0]["source"]
    assert done["unbadged"] == []   # nbdev-proc-nbs put the badge there; prepare adds none of its own
    assert db.read_stamp(lesson) and "not recorded" in db.read_stamp(lesson)  # outputs but no stamp: the page says so
    assert done["unstamped"] == ["00_tensors.ipynb"]
    home = json.loads((work / "index.ipynb").read_text())
    assert "[T](tensors.ipynb)" in home["cells"][1]["source"] and db.read_stamp(home) is None  # no outputs, no stamp
    data = json.loads((work / "api" / "data.ipynb").read_text())
    assert "../tensors.ipynb#top" in data["cells"][1]["source"]
    cfg = yaml.safe_load((work / "_quarto.yml").read_text())
    assert "keep-md" not in cfg["format"]["html"] and "commonmark" not in cfg["format"] and "html-math-method" not in cfg["format"]["html"]
    assert cfg["website"]["navbar"]["left"][0]["href"] == "tensors.ipynb"
    assert "format-links" not in yaml.safe_load((work / "nbdev.yml").read_text())
    assert "tensors.ipynb" in (work / "sidebar.yml").read_text()
    assert not (proc / "tensors.ipynb").exists(), "nbdev's _proc cache must not be changed"


def test_prepare_reports_a_lesson_without_its_badge(tmp_path):
    "Without doc_procs the Colab badge is missing; the build says so instead of adding its own."
    done = db.prepare(fake_proc(tmp_path, badge=False), tmp_path / "work", tmp_path / "_docs", INFO, tmp_path / "nbs")
    assert done["unbadged"] == ["00_tensors.ipynb"]


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
    assert 'alt="a dot"' in (tmp_path / "_docs" / "tensors.html").read_text()


def test_the_build_fails_on_a_broken_link(tmp_path):
    proc = fake_proc(tmp_path, index_links="[T](00_tensors.ipynb) and [gone](no_such_page.ipynb)")
    db.prepare(proc, tmp_path / "work", tmp_path / "_docs", INFO, tmp_path / "nbs")
    assert render(tmp_path / "work") == 1


def test_check_site_finds_missing_pictures_and_alt_text(tmp_path):
    proc = fake_proc(tmp_path)
    db.prepare(proc, tmp_path / "work", tmp_path / "_docs", INFO, tmp_path / "nbs")
    assert render(tmp_path / "work") == 0
    page = tmp_path / "_docs" / "tensors.html"
    text = page.read_text()
    page.write_text(text.replace('alt="a dot"', 'alt=""'))
    problems = db.check_site(tmp_path / "_docs", tmp_path / "work", ROOT, {})
    assert [p for p in problems if "without alt text" in p and "tensors.ipynb" in p]
    page.write_text(re.sub(r'<img[^>]*>', "", text))
    problems = [p for p in db.check_site(tmp_path / "_docs", tmp_path / "work", ROOT, {}) if "picture" in p]
    assert problems and "tensors.ipynb" in problems[0]


# ---- the site with the network unplugged

def test_the_built_site_is_offline(tmp_path):
    "smalldocs' output asks a CDN for KaTeX and the theme asks for web fonts; make_offline leaves neither."
    proc = fake_proc(tmp_path)
    done = db.prepare(proc, tmp_path / "work", tmp_path / "_docs", INFO, tmp_path / "nbs")
    assert render(tmp_path / "work") == 0
    out = tmp_path / "_docs"
    assert db.outside_loads(out), "smalldocs' own output loads KaTeX and fonts from other hosts (else this test proves nothing)"
    assert db.make_offline(out, done["renames"], INFO) == []
    assert db.outside_loads(out) == []
    data = (out / "api" / "data.html").read_text()
    assert "<math" in data and 'display="block"' in data and "katex" not in data.lower()
    assert "\\(" not in data and "\\[" not in data and "$" not in re.sub(r"<[^>]+>", "", data.split("<main")[1].split("</main>")[0])


def test_render_maths():
    page = ('<head><link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/katex@0.16.11/dist/katex.min.css">'
            '<script src="https://cdn.jsdelivr.net/npm/katex@0.16.11/dist/katex.min.js" defer></script></head>'
            '<p><span class="math inline">\\(f&#x27;(x) \\approx \\frac{1}{2}\\)</span></p>')
    new, failed = db.render_maths(page)
    assert failed == [] and "katex" not in new and "\\(" not in new
    assert '<math alttext="f&#x27;(x) \\approx \\frac{1}{2}"' in new and "<mfrac>" in new
    for tex in ("\\frac{1}{", "\\notacommand x"):   # a syntax error, and a command latex2mathml would print as text
        bad, failed = db.render_maths(f'<span class="math display">\\[{tex}\\]</span>')
        assert len(failed) == 1 and tex in failed[0] and bad.startswith('<span class="math display">\\[')   # left as it was, and reported


def test_outside_loads_finds_what_a_page_would_fetch(tmp_path):
    (tmp_path / "a.html").write_text(
        '<link rel="stylesheet" href="https://fonts.example.com/a.css"><link rel="canonical" href="https://me.github.io/a.html">'
        '<script src="//cdn.example.com/x.js"></script><img src="https://img.example.com/p.png" alt="p">'
        '<a href="https://github.com/me/course">a link is not a load</a><script type="module">import m from "https://esm.example.com/m.js";</script>'
        '<link rel="stylesheet" href="site_libs/local.css"><img src="data:image/png;base64,AAAA" alt="d">')
    (tmp_path / "b.css").write_text("@import url(https://fonts.example.com/b.css); .x { background: url('https://img.example.com/bg.png') }")
    found = {u for _, u in db.outside_loads(tmp_path)}
    assert found == {"https://fonts.example.com/a.css", "//cdn.example.com/x.js", "https://img.example.com/p.png",
                     "https://esm.example.com/m.js", "https://fonts.example.com/b.css", "https://img.example.com/bg.png"}


# ---- saved outputs and README

def test_stamp_roundtrip():
    env = dict(torch="2.14.1", cuda="12.8", gpus=["NVIDIA H100 80GB HBM3"], ngpu=1, cpu="Xeon", cores=16,
               python="3.11.2", system="Linux x86_64", date="2025-11-26")
    text = db.stamp_text(env)
    assert text.startswith(db.STAMP_MARKER) and "torch 2.14.1" in text and "NVIDIA H100 80GB HBM3 (CUDA 12.8)" in text
    n = db.set_stamp(db.set_stamp(nb(code("1")), text), text)
    assert len(n["cells"]) == 2 and "torch 2.14.1" in db.read_stamp(n)


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
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


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
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


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
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


@pytest.mark.slow   # seconds of work (a whole program, a notebook, training or plotting): `make quick` leaves it out
def test_the_command_line_runs_from_the_repo_root(tmp_path):
    "`python tools/docs_build.py ...` is how the Makefile, the README and the notebooks call it."
    import subprocess
    r = subprocess.run([sys.executable, "tools/docs_build.py", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and "python tools/docs_build.py" in r.stdout and "readme" in r.stdout, r.stderr
    r = subprocess.run([sys.executable, "tools/docs_build.py", "run", str(tmp_path / "nothing.ipynb")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1 and "is not a notebook" in r.stderr


def test_language_twins_link_both_ways():
    from pathlib import Path as P
    assert procs.twin('03_sgd.ipynb') == (P('ko/03_sgd.ipynb'), '한국어')
    assert procs.twin('ko/solutions/03_sgd_solutions.ipynb') == (P('solutions/03_sgd_solutions.ipynb'), 'English')
    assert procs.wants_badge('ko/03_sgd.ipynb') and procs.wants_badge('ko/solutions/03_sgd_solutions.ipynb')
