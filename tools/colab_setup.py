#!/usr/bin/env python
"""Write, or check, the Colab set-up cell at the top of every lesson and solution notebook.

    python tools/colab_setup.py                  # write the cell (and GPU metadata) where it is missing or stale
    python tools/colab_setup.py --check          # exit 1, naming each notebook to fix and the command that fixes it
    python tools/colab_setup.py nbs/02_nn_module.ipynb ...   # only these notebooks

The set-up cell is the first code cell of each notebook. Where `cifar_tutorial` is importable (a clone with
`pip install -e .`, CI, nbdev-test, the docs build) it does nothing; where it is missing (Colab, a fresh
environment) it runs `pip install git+<Repository URL>`. The URL is `[project.urls] Repository` in
pyproject.toml, still the one place to change it: rerun this tool after changing it (`--check` fails until
then). The environment variable CIFAR_TUTORIAL_INSTALL_SOURCE, when set, replaces that install source
(the tests point it at the local checkout).

Lessons that want a GPU (GPU_LESSONS) also get Colab's notebook metadata, `"accelerator": "GPU"` and
`"colab": {"gpuType": "T4"}`, so Colab opens them on a GPU runtime. nbdev-clean keeps these two keys only
when pyproject.toml's [tool.nbdev] says `allowed_metadata_keys = ["accelerator", "colab"]`; `--check`
fails without that line.

A contributor tool: plain Python and the standard library (tomllib, or tomli on Python 3.10).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
# Which notebooks get the cell, relative to the repository root: the lessons and their solutions, and the same
# files of a translation under nbs/ko/ once it exists.
# The English lessons and solutions. The Korean ones in nbs/ko are generated from them by tools/i18n.py, which
# copies this cell (with its comments translated) and whose gate proves their code equals the English code.
NOTEBOOK_GLOBS = ("nbs/0*.ipynb", "nbs/solutions/*.ipynb")
GPU_LESSONS = ("05_", "06_")  # notebooks whose file name starts with one of these want a GPU runtime on Colab
SOURCE_ENV = "CIFAR_TUTORIAL_INSTALL_SOURCE"  # overrides the install source (a path, a wheel or a pip URL)
MARKER = "# Written by tools/colab_setup.py"  # the line that identifies the set-up cell
CELL_ID = "colab-setup"
GPU_METADATA = {"accelerator": "GPU", "colab": {"gpuType": "T4"}}  # what Colab itself writes for "T4 GPU"
PACKAGE = "cifar_tutorial"


def repository_url(root: Path = ROOT) -> str:
    "The `[project.urls] Repository` of `root`'s pyproject.toml, without a trailing slash."
    cfg = tomllib.loads((Path(root) / "pyproject.toml").read_text(encoding="utf-8"))
    url = ((cfg.get("project") or {}).get("urls") or {}).get("Repository", "").rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise SystemExit(f"pyproject.toml in {root} has no [project.urls] Repository URL (got {url!r}): "
                         "add `Repository = \"https://github.com/OWNER/REPO\"` under [project.urls]")
    return url


def allowed_metadata_keys(root: Path = ROOT) -> list:
    "The notebook metadata keys nbdev-clean keeps beyond its own: [tool.nbdev] allowed_metadata_keys."
    cfg = tomllib.loads((Path(root) / "pyproject.toml").read_text(encoding="utf-8"))
    keys = (cfg.get("tool") or {}).get("nbdev", {}).get("allowed_metadata_keys") or []
    return keys.split() if isinstance(keys, str) else list(keys)


def setup_source(url: str) -> str:
    "The set-up cell's source for a package installed from the git repository at `url`."
    return f"""#| code-fold: true
#| code-summary: Set-up (installs the course package on Colab)
# Set-up: if this Python has no `{PACKAGE}` package (on Colab, or in a fresh environment), install it
# from the course's repository. Where it is installed already, this cell does nothing.
{MARKER}: change the tool, not this cell.
import importlib, importlib.util, os, subprocess, sys
if importlib.util.find_spec('{PACKAGE}') is None:
    source = os.environ.get('{SOURCE_ENV}', 'git+{url}')
    print('Installing {PACKAGE} from', source, '(about a minute) ...')
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', source], check=True)
    importlib.invalidate_caches()   # so that this running Python finds the package just installed"""


def _src(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def is_setup_cell(cell) -> bool:
    "Whether `cell` (a dict from an .ipynb file) is a set-up cell written by this tool, of any version."
    return cell.get("cell_type") == "code" and any(l.startswith(MARKER) for l in _src(cell).splitlines())


def wants_gpu(path) -> bool:
    "Whether the notebook at `path` is one of the GPU lessons or their solutions."
    return Path(path).name.startswith(GPU_LESSONS)


def problems(nb: dict, path, url: str) -> list:
    "What is missing or stale in notebook `nb` (the dict of the file at `path`); empty when it is up to date."
    out = []
    code = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    setup = [c for c in code if is_setup_cell(c)]
    if not setup: out.append("has no set-up cell")
    elif len(setup) > 1: out.append(f"has {len(setup)} set-up cells")
    elif code[0] is not setup[0]: out.append("its set-up cell is not the first code cell")
    if setup and _src(setup[0]) != setup_source(url):
        if f"'git+{url}'" not in _src(setup[0]):
            out.append(f"its set-up cell installs from another URL than pyproject's Repository ({url})")
        else:
            out.append("its set-up cell differs from the one this tool writes")
    if wants_gpu(path):
        md = nb.get("metadata", {})
        if md.get("accelerator") != GPU_METADATA["accelerator"] or (md.get("colab") or {}).get("gpuType") != GPU_METADATA["colab"]["gpuType"]:
            out.append('lacks Colab\'s GPU metadata ("accelerator": "GPU", "colab": {"gpuType": "T4"})')
    return out


def apply(nb: dict, path, url: str) -> bool:
    "Put the current set-up cell first among `nb`'s code cells (and the GPU metadata); whether anything changed."
    if not problems(nb, path, url): return False
    old = [c for c in nb["cells"] if is_setup_cell(c)]
    keep = old[0] if old and _src(old[0]) == setup_source(url) else None   # unchanged text: keep its outputs
    cells = [c for c in nb["cells"] if not is_setup_cell(c)]
    if keep is None:
        keep = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                "source": setup_source(url).splitlines(keepends=True)}
        if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) >= (4, 5):
            ids = {c.get("id") for c in cells}
            keep["id"] = next(i for i in (CELL_ID, *(f"{CELL_ID}-{n}" for n in range(2, 100))) if i not in ids)
    at = next((i for i, c in enumerate(cells) if c.get("cell_type") == "code"), len(cells))
    nb["cells"] = cells[:at] + [keep] + cells[at:]
    if wants_gpu(path):
        md = nb.setdefault("metadata", {})
        md["accelerator"] = GPU_METADATA["accelerator"]
        md["colab"] = {**(md.get("colab") or {}), **GPU_METADATA["colab"]}
    return True


def dumps(nb: dict) -> str:
    "A notebook as nbdev-clean writes it (sorted keys, indent 1, UTF-8 kept, final newline)."
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def notebooks(root: Path = ROOT, globs=NOTEBOOK_GLOBS) -> list:
    "The notebooks that get the set-up cell, found under `root`."
    return sorted({p for g in globs for p in Path(root).glob(g) if ".ipynb_checkpoints" not in p.parts})


def _rel(p: Path, root: Path) -> str:
    try: return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError: return str(p)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Write (or check with --check) the Colab set-up cell as the first code "
                                 "cell of every lesson and solution notebook.")
    ap.add_argument("notebooks", nargs="*", type=Path, help=f"notebooks to process (default: {' '.join(NOTEBOOK_GLOBS)})")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 and name each notebook that needs the tool")
    ap.add_argument("--root", type=Path, default=ROOT, help="the repository root (default: the one holding this tool)")
    a = ap.parse_args(argv)
    root = a.root
    url = repository_url(root)
    paths = a.notebooks or notebooks(root)
    if not paths:
        print(f"no notebooks matched {' '.join(NOTEBOOK_GLOBS)} under {root}", file=sys.stderr)
        return 1
    bad, names, changed = [], [], []
    for p in paths:
        nb = json.loads(Path(p).read_text(encoding="utf-8"))
        if a.check:
            why = problems(nb, p, url)
            bad += [f"{_rel(Path(p), root)}: {w}" for w in why]
            names += [_rel(Path(p), root)] if why else []
        elif apply(nb, p, url):
            Path(p).write_text(dumps(nb), encoding="utf-8")
            changed.append(_rel(Path(p), root))
    missing = [k for k in GPU_METADATA if k not in allowed_metadata_keys(root)]
    keys_line = 'allowed_metadata_keys = ["accelerator", "colab"]'
    if missing and any(wants_gpu(p) for p in paths):
        msg = (f"pyproject.toml: [tool.nbdev] does not keep the notebook metadata {missing}: nbdev-clean (and "
               f"Jupyter's save hook) would strip Colab's GPU settings. Add `{keys_line}` under [tool.nbdev].")
        if a.check: bad.append(msg)
        else: print(f"warning: {msg}", file=sys.stderr)
    if a.check:
        if bad:
            print("The Colab set-up cell is missing or stale:", *(f"  {b}" for b in bad), sep="\n", file=sys.stderr)
            if names: print(f"To fix: python tools/colab_setup.py {' '.join(names)}", file=sys.stderr)
            return 1
        print(f"ok: {len(paths)} notebooks start with the current Colab set-up cell")
        return 0
    print(f"wrote the set-up cell into {len(changed)} notebooks" + (": " + ", ".join(changed) if changed else "")
          + f"; {len(paths) - len(changed)} already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
