"""tools/colab_setup.py: the set-up cell that installs the package on Colab, and a simulation of Colab.

Quick tests: `--check` passes on notebooks that carry the current cell and fails, naming what to fix, on one
without it, with a stale URL, with the cell out of place, without the GPU metadata, or without the pyproject
line that keeps that metadata; nbdev-clean keeps the metadata with that line; the cell is a no-op where the
package is installed; every lesson and solution in the repository has the cell.

The slow test (`-m slow` selects it, `-m "not slow"` leaves it out) simulates Colab, see its docstring.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "colab_setup.py"

def _load_tool():
    spec = importlib.util.spec_from_file_location("colab_setup", TOOL)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

cs = _load_tool()
KEYS_LINE = 'allowed_metadata_keys = ["accelerator", "colab"]'


def _tool(*args, root=None):
    "Run the tool as a contributor would; (return code, stdout + stderr)."
    cmd = [sys.executable, str(TOOL), *(["--root", str(root)] if root else []), *map(str, args)]
    r = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def _pyproject(text: str, keys: bool = True, url: str | None = None) -> str:
    "The repository's pyproject.toml with (or without) the metadata-keys line, and optionally another URL."
    lines = [l for l in text.splitlines() if not l.startswith("allowed_metadata_keys")]
    if keys: lines.insert(lines.index("[tool.nbdev]") + 1, KEYS_LINE)
    out = "\n".join(lines) + "\n"
    if url: out = out.replace(cs.repository_url(ROOT), url)
    return out


@pytest.fixture
def mini_repo(tmp_path):
    "A repository root with pyproject.toml (keeping the GPU metadata) and copies of two lessons and a solution."
    (tmp_path / "nbs" / "solutions").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text(_pyproject((ROOT / "pyproject.toml").read_text()))
    for rel in ("nbs/02_nn_module.ipynb", "nbs/05_gpu.ipynb", "nbs/solutions/02_nn_module_solutions.ipynb"):
        nb = json.loads((ROOT / rel).read_text(encoding="utf-8"))
        nb["cells"] = [c for c in nb["cells"] if not cs.is_setup_cell(c)]   # as they were before the tool
        for k in cs.GPU_METADATA: nb["metadata"].pop(k, None)
        (tmp_path / rel).write_text(cs.dumps(nb), encoding="utf-8")
    return tmp_path


def _cells(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))["cells"]


def test_check_fails_without_the_cell_and_passes_once_written(mini_repo):
    rc, out = _tool("--check", root=mini_repo)
    assert rc == 1, out
    for rel in ("nbs/02_nn_module.ipynb", "nbs/05_gpu.ipynb", "nbs/solutions/02_nn_module_solutions.ipynb"):
        assert f"{rel}: has no set-up cell" in out
    assert "nbs/05_gpu.ipynb: lacks Colab's GPU metadata" in out
    assert "nbs/02_nn_module.ipynb: lacks" not in out              # only the GPU lessons want a GPU
    assert "To fix: python tools/colab_setup.py nbs/02_nn_module.ipynb nbs/05_gpu.ipynb" in out

    rc, out = _tool(root=mini_repo)
    assert rc == 0 and "wrote the set-up cell into 3 notebooks" in out, out
    before = {p: p.read_bytes() for p in mini_repo.rglob("*.ipynb")}
    rc, out = _tool("--check", root=mini_repo)
    assert rc == 0 and "ok: 3 notebooks" in out, out
    rc, out = _tool(root=mini_repo)                                  # a second run changes nothing
    assert rc == 0 and "into 0 notebooks" in out and before == {p: p.read_bytes() for p in before}

    for p in before:                                                 # first code cell, with pyproject's URL
        code = [c for c in _cells(p) if c["cell_type"] == "code"]
        src = "".join(code[0]["source"])
        assert cs.is_setup_cell(code[0]) and sum(map(cs.is_setup_cell, code)) == 1
        assert f"'git+{cs.repository_url(ROOT)}'" in src and "#| code-fold: true" in src
    md = json.loads((mini_repo / "nbs/05_gpu.ipynb").read_text())["metadata"]
    assert md["accelerator"] == "GPU" and md["colab"] == {"gpuType": "T4"}
    assert "accelerator" not in json.loads((mini_repo / "nbs/02_nn_module.ipynb").read_text())["metadata"]


def test_check_names_each_stale_part(mini_repo):
    assert _tool(root=mini_repo)[0] == 0
    lesson = mini_repo / "nbs/02_nn_module.ipynb"
    nb = json.loads(lesson.read_text())
    code_at = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]
    nb["cells"].insert(code_at[1] + 1, nb["cells"].pop(code_at[0]))  # the cell moved below another code cell
    lesson.write_text(cs.dumps(nb))
    gpu = mini_repo / "nbs/05_gpu.ipynb"
    nb = json.loads(gpu.read_text()); del nb["metadata"]["accelerator"]; gpu.write_text(cs.dumps(nb))
    rc, out = _tool("--check", root=mini_repo)
    assert rc == 1
    assert "nbs/02_nn_module.ipynb: its set-up cell is not the first code cell" in out
    assert "nbs/05_gpu.ipynb: lacks Colab's GPU metadata" in out
    assert "solutions/02_nn_module_solutions.ipynb" not in out
    assert _tool(root=mini_repo)[0] == 0 and _tool("--check", root=mini_repo)[0] == 0   # the tool repairs both

    # The repository moved: pyproject's URL is the one place to change, and --check notices until the tool runs.
    (mini_repo / "pyproject.toml").write_text(_pyproject((ROOT / "pyproject.toml").read_text(), url="https://github.com/someone/fork"))
    rc, out = _tool("--check", root=mini_repo)
    assert rc == 1 and "installs from another URL than pyproject's Repository (https://github.com/someone/fork)" in out
    assert _tool(root=mini_repo)[0] == 0
    assert "'git+https://github.com/someone/fork'" in "".join(_cells(lesson)[1]["source"])

    # Without the pyproject line, nbdev-clean would strip the GPU metadata: --check says which line to add.
    (mini_repo / "pyproject.toml").write_text(_pyproject((ROOT / "pyproject.toml").read_text(), keys=False))
    rc, out = _tool("--check", root=mini_repo)
    assert rc == 1 and KEYS_LINE in out and "[tool.nbdev]" in out


@pytest.mark.skipif(shutil.which("nbdev-clean") is None, reason="nbdev-clean is not installed (pip install -e '.[dev]')")
@pytest.mark.parametrize("keys", [True, False])
def test_nbdev_clean_keeps_the_gpu_metadata_only_with_the_pyproject_line(mini_repo, keys):
    (mini_repo / "pyproject.toml").write_text(_pyproject((ROOT / "pyproject.toml").read_text(), keys=keys))
    assert _tool(root=mini_repo)[0] == 0
    gpu = mini_repo / "nbs/05_gpu.ipynb"
    before = gpu.read_bytes()
    r = subprocess.run(["nbdev-clean", "--fname", str(gpu)], check=False, cwd=mini_repo, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    md = json.loads(gpu.read_text())["metadata"]
    if keys:
        assert gpu.read_bytes() == before                            # nothing for nbdev-clean to change
    else:
        assert "accelerator" not in md and "colab" not in md         # why --check asks for the line
    assert cs.is_setup_cell(next(c for c in _cells(gpu) if c["cell_type"] == "code"))


def test_the_cell_does_nothing_where_the_package_is_installed(tmp_path):
    "Run the cell in a Python that has the package: no install (the install source is a path that does not exist)."
    script = tmp_path / "cell.py"
    script.write_text(cs.setup_source("https://github.com/cifar-tutorial/cifar_tutorial") + "\nprint('done')\n")
    env = {**os.environ, cs.SOURCE_ENV: str(tmp_path / "no-such-source"), "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, str(script)], check=False, capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0 and r.stdout == "done\n", r.stdout + r.stderr


def test_every_lesson_and_solution_has_the_current_cell():
    rc, out = _tool("--check")
    assert rc == 0, f"{out}\nRun `python tools/colab_setup.py` (and add `{KEYS_LINE}` under [tool.nbdev] if asked)."


# ---------------------------------------------------------------------------------------------- Colab simulation

def _parent_site_dirs() -> list:
    "The site-packages folders of the Python running the tests, in sys.path order."
    return [p for p in dict.fromkeys(sys.path) if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]


def _fresh_venv(tmp: Path) -> Path:
    """A virtualenv without cifar_tutorial that still sees this environment's other packages (torch, ipykernel,
    pip, setuptools...), so nothing is downloaded: one folder of links to every entry of this environment's
    site-packages except cifar_tutorial's, listed in a .pth file of the venv. A folder named in a .pth file is
    put on sys.path without reading the .pth files inside it, so no editable-install finder loads."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    links = tmp / "parent-packages"
    links.mkdir()
    for d in _parent_site_dirs():
        for entry in Path(d).iterdir():
            if "cifar_tutorial" in entry.name.lower().replace("-", "_") or (links / entry.name).exists(): continue
            (links / entry.name).symlink_to(entry)
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    (Path(site) / "_parent_packages.pth").write_text(f"{links}\n")
    return py


def _install_source(tmp: Path) -> Path:
    "A copy of what a build of the package reads (the checkout's working tree), so the build writes nothing into it."
    src = tmp / "checkout"
    shutil.copytree(ROOT / "cifar_tutorial", src / "cifar_tutorial", ignore=shutil.ignore_patterns("__pycache__"))
    for f in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / f).exists(): shutil.copy2(ROOT / f, src / f)
    return src


def _kernel_spec(tmp: Path, py: Path) -> Path:
    "A Jupyter data folder with a kernel spec 'colab-sim' that starts ipykernel in the venv."
    d = tmp / "jupyter"
    (d / "kernels" / "colab-sim").mkdir(parents=True)
    spec = {"argv": [str(py), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "colab-sim", "language": "python"}
    (d / "kernels" / "colab-sim" / "kernel.json").write_text(json.dumps(spec))
    return d


_BEFORE = """import importlib.util, sys
assert importlib.util.find_spec('cifar_tutorial') is None, 'the fresh environment already has cifar_tutorial'
print('COLAB-SIM prefix', sys.prefix)"""
_AFTER = """import cifar_tutorial
print('COLAB-SIM package', cifar_tutorial.__file__)"""


@pytest.mark.slow
@pytest.mark.parametrize("lesson", ["02_nn_module", "04_cifar_classifier"])
def test_colab_simulation_runs_the_lesson_in_a_fresh_environment(lesson, tmp_path, cifar_root, monkeypatch):
    """Colab, simulated: a fresh virtualenv without cifar_tutorial, a real Jupyter kernel (ipykernel) in it, and
    the install source overridden (CIFAR_TUTORIAL_INSTALL_SOURCE) to a copy of the local checkout. The lesson
    runs top to bottom the way nbdev-test runs it: IN_TEST=1 (lesson 04 trains one epoch on its test subset),
    every code cell but those flagged with pyproject's tst_flags (notest slow cuda; none in lessons 02 and 04
    today). The data is the conftest's 100-image CIFAR-10 copy, so nothing is downloaded; pip installs with
    PIP_NO_INDEX (the dependencies are already there) and without build isolation (setuptools is there too).
    The notebook is a temp copy with the tool applied (a no-op once the repository's notebooks carry the cell).
    Probe cells assert that the package is missing before the set-up cell and imported from the venv after it.
    About 1 min for 02 and 2-3 min for 04 on 2 busy cores; every cell has a 600 s limit."""
    pytest.importorskip("nbclient"); pytest.importorskip("ipykernel")
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient
    from nbdev.test import nb_test_cells

    start = time.perf_counter()
    py = _fresh_venv(tmp_path)
    probe = subprocess.run([str(py), "-c", "import cifar_tutorial"], check=False, capture_output=True, text=True,
                           timeout=120, cwd=tmp_path, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert probe.returncode != 0 and "No module named 'cifar_tutorial'" in probe.stderr, probe.stderr

    work = tmp_path / "work"; work.mkdir()
    nb_path = work / f"{lesson}.ipynb"
    nb = json.loads((ROOT / "nbs" / f"{lesson}.ipynb").read_text(encoding="utf-8"))
    cs.apply(nb, nb_path, cs.repository_url(ROOT))
    nb_path.write_text(cs.dumps(nb), encoding="utf-8")
    flags = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["nbdev"].get("tst_flags", "").split()
    run_ids = {c.id for c in nb_test_cells(nb_path, skip_flags=flags)}
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and c.get("id") in run_ids]
    assert cs.is_setup_cell(code[0]), "the set-up cell must be the first code cell that runs"
    nb["cells"] = [nbformat.v4.new_code_cell(_BEFORE), code[0], nbformat.v4.new_code_cell(_AFTER), *code[1:]]
    nb = nbformat.reads(json.dumps(nb), as_version=4)

    for k in ("PYTHONPATH", "PYTHONHOME", "MPLBACKEND"): monkeypatch.delenv(k, raising=False)
    for k, v in {cs.SOURCE_ENV: str(_install_source(tmp_path)), "JUPYTER_PATH": str(_kernel_spec(tmp_path, py)),
                 "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0",   # "0" turns build isolation off (pip's naming)
                 "PYTHONNOUSERSITE": "1", "IN_TEST": "1", "CIFAR_TUTORIAL_DATA": str(cifar_root),
                 "CIFAR_TUTORIAL_NO_VERIFY": "1"}.items():
        monkeypatch.setenv(k, v)
    NotebookClient(nb, timeout=600, kernel_name="colab-sim", resources={"metadata": {"path": str(work)}}).execute()

    text = lambda c: "".join(o.get("text", "") for o in c.outputs if o.get("output_type") == "stream")
    assert f"COLAB-SIM prefix {tmp_path / 'venv'}" in text(nb.cells[0])
    assert f"Installing cifar_tutorial from {os.environ[cs.SOURCE_ENV]}" in text(nb.cells[1])
    installed = text(nb.cells[2]).split("COLAB-SIM package ")[1].strip()
    assert installed.startswith(str(tmp_path / "venv")), f"cifar_tutorial came from {installed}, not the venv"
    print(f"{lesson}: {len(nb.cells) - 2} cells in {time.perf_counter() - start:.0f} s")
