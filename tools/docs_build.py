"""Contributor tool: the offline docs build, the record of what produced a notebook's saved outputs, README sync.

    python tools/docs_build.py build [--final]      # the website, offline, into _docs/ (what `make docs` runs)
    python tools/docs_build.py run nbs/03_sgd.ipynb  # execute a notebook in place and stamp its torch/hardware
    python tools/docs_build.py readme [--check]     # copy the sections of nbs/index.ipynb into README.md

Not part of the package learners install (it needs nbdev, nbclient, smalldocs and latex2mathml, the `dev` extra);
tests/test_docs_build.py tests it. The site is published with Quarto (`nbdev-docs`); Quarto cannot be installed
everywhere, so `build` makes the same site with smalldocs: `nbdev-proc-nbs` processes the notebooks exactly as for
Quarto (including the doc processors of cifar_tutorial/_nbdev_procs.py: the Colab badge, classes, figure alt text),
this module copies that output and bridges what smalldocs reads differently, smalldocs renders it with
`--strict`, and the result is made to work with the network unplugged: maths rendered to MathML at build time,
no web fonts, and a check that no page loads anything from another host.
"""
import html
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":  # `python tools/docs_build.py`: import this checkout's package, whatever is installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cifar_tutorial._nbdev_procs import repo_info as _repo_info  # noqa: E402
from cifar_tutorial._nbdev_procs import wants_badge  # noqa: E402 - shared with the processors nbdev-proc-nbs runs


def project_root(start=None) -> Path:  # the folder that holds pyproject.toml with [tool.nbdev]
    "Find the project root, walking up from `start` (default: the current folder)."
    p = Path(start or Path.cwd()).resolve()
    for d in [p, *p.parents]:
        f = d / "pyproject.toml"
        if f.exists() and "[tool.nbdev]" in f.read_text(encoding="utf-8"):
            return d
    raise FileNotFoundError(f"no pyproject.toml with [tool.nbdev] at or above {p}: run this inside the cifar_tutorial repository")

def repo_info(root=None) -> dict:  # repo_url, owner, repo, branch, site_url, nbs
    "Read the repository URL, branch and docs URL from `pyproject.toml` (via nbdev's config)."
    return _repo_info(project_root(root))

def _has_badge(nb) -> bool:
    return any(c.get("cell_type") == "markdown" and "colab-badge" in "".join(c.get("source", "")) for c in nb["cells"])

STAMP_MARKER = "<!-- outputs-produced-with -->"  # the first line of the stamp cell

# Runs inside the kernel that just executed the notebook; prints one JSON line.
_PROBE = r'''
import json as _j, platform as _p, sys as _s, datetime as _d, os as _o
def _cpu():
    try:
        for _l in open("/proc/cpuinfo"):
            if _l.startswith("model name"): return _l.split(":", 1)[1].strip()
    except OSError: pass
    return _p.processor() or _p.machine()
_r = dict(python=_p.python_version(), system=f"{_p.system()} {_p.machine()}", cpu=_cpu(), cores=_o.cpu_count(),
          date=_d.date.today().isoformat(), torch=None, cuda=None, gpus=[])
try:
    import torch as _t
    _r["torch"] = _t.__version__
    if _t.cuda.is_available():
        _r["cuda"] = _t.version.cuda
        _r["gpus"] = sorted({_t.cuda.get_device_name(_i) for _i in range(_t.cuda.device_count())})
        _r["ngpu"] = _t.cuda.device_count()
    elif getattr(_t.backends, "mps", None) is not None and _t.backends.mps.is_available():
        _r["gpus"] = ["Apple MPS"]
except ImportError: pass
print("PROBE" + _j.dumps(_r))
'''

def stamp_text(env: dict) -> str:  # the markdown of the stamp cell
    "Say in one line what produced the saved outputs, from what the kernel reported."
    torch = f"torch {env['torch']}" if env.get("torch") else "no torch"
    if env.get("gpus"):
        n = env.get("ngpu", 1)
        hw = f"{'%d × ' % n if n > 1 else ''}{', '.join(env['gpus'])}" + (f" (CUDA {env['cuda']})" if env.get("cuda") else "")
        hw += f" with a {env['cpu']} CPU"
    else:
        hw = f"CPU only: {env['cpu']}, {env['cores']} cores"
    return (f"{STAMP_MARKER}\n> **Saved outputs:** produced by running this notebook top to bottom with {torch} "
            f"on {hw}; Python {env['python']}, {env['system']}, {env['date']}.")

def read_stamp(nb: dict):  # the stamp text without the marker, or None
    "Find the stamp cell of a notebook (a dict as in the .ipynb file)."
    for c in nb.get("cells", []):
        src = "".join(c.get("source", ""))
        if c.get("cell_type") == "markdown" and src.startswith(STAMP_MARKER):
            return src[len(STAMP_MARKER):].strip()
    return None

def set_stamp(nb: dict, text: str) -> dict:
    "Replace any stamp cell of `nb` by a new one at the end."
    nb["cells"] = [c for c in nb["cells"] if not (c.get("cell_type") == "markdown" and "".join(c.get("source", "")).startswith(STAMP_MARKER))]
    nb["cells"].append(dict(cell_type="markdown", metadata={}, source=text))
    return nb

def run_notebook(path, timeout: int = 1800, kernel: str = "python3") -> str:  # the stamp written
    "Execute notebook `path` in place (cwd: its folder), then stamp it with what the same kernel reports."
    import nbformat
    from nbclient import NotebookClient
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor
    path = Path(path).resolve()
    if not path.exists() or path.suffix != ".ipynb":
        raise FileNotFoundError(f"{path} is not a notebook: give the path of an .ipynb file")
    nb = nbformat.read(path, as_version=4)
    probe = nbformat.v4.new_code_cell(_PROBE)
    nb.cells.append(probe)
    backend = os.environ.pop("MPLBACKEND", None)   # MPLBACKEND=Agg in the shell would keep every figure off the page
    try: NotebookClient(nb, timeout=timeout, kernel_name=kernel, resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        if backend is not None: os.environ["MPLBACKEND"] = backend
    nb.cells.pop()
    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})   # one output per stream; progress bars end as their last state
    for cell in nb.cells:                                       # tqdm clears its bar with spaces: drop those lines
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream": o.text = "\n".join(l for l in o.text.split("\n") if l.strip() or not l)
    out = "".join(o.get("text", "") for o in probe.outputs if o.get("output_type") == "stream")
    line = next((l for l in out.splitlines() if l.startswith("PROBE")), None)
    if line is None:
        raise RuntimeError(f"{path.name}: the kernel did not report its environment; outputs were: {probe.outputs}")
    text = stamp_text(json.loads(line[5:]))
    d = json.loads(nbformat.writes(nb))
    set_stamp(d, text)
    path.write_text(json.dumps(d, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return text

def output_names(proc: Path) -> dict:  # {old relative path: new relative path} for renamed pages
    "Map each processed notebook to the name its `output-file` gives it."
    out = {}
    for f in sorted(proc.rglob("*.ipynb")):
        nb = json.loads(f.read_text(encoding="utf-8"))
        cells = nb.get("cells") or []
        src = "".join(cells[0].get("source", "")) if cells and cells[0].get("cell_type") == "raw" else ""
        m = re.search(r"^output-file:\s*(\S+)\s*$", src, re.M)
        if not m: continue
        rel = f.relative_to(proc).as_posix()
        new = posixpath.join(posixpath.dirname(rel), Path(m.group(1)).stem + ".ipynb")
        if new != rel: out[rel] = new
    targets = list(out.values()) + [f.relative_to(proc).as_posix() for f in proc.rglob("*.ipynb") if f.relative_to(proc).as_posix() not in out]
    dups = sorted({t for t in targets if targets.count(t) > 1})
    if dups:
        raise ValueError(f"two notebooks make the same page {dups}: rename one of them (nbdev drops the number prefix)")
    return out

_LINK_RE = re.compile(r"(\]\(\s*<?|href=[\"']|src=[\"'])([^)\s\"'>]+)")

def rewrite_links(text: str, page: str, renames: dict, site_url: str = "") -> str:
    "Rewrite the links in `text` (markdown or HTML) on page `page` (relative path) to renamed pages and to the site itself."
    base = posixpath.dirname(page)
    def fix(m):
        pre, href = m.groups()
        if site_url and href.startswith(site_url):
            href = "/" + href[len(site_url):]
            if href.split("#")[0].endswith(".html"):
                href = re.sub(r"\.html(?=#|$)", ".ipynb", href)
        if re.match(r"^[a-zA-Z][\w+.-]*:|^//|^#", href): return pre + href
        path, sep, tail = href.partition("#")
        absolute = path.startswith("/")
        target = posixpath.normpath(path.lstrip("/") if absolute else posixpath.join(base, path))
        if target.endswith(".html") and target[:-5] + ".ipynb" in renames: target = target[:-5] + ".ipynb"
        if target not in renames: return pre + href
        new = renames[target]
        new = "/" + new if absolute else posixpath.relpath(new, base or ".")
        return pre + new + sep + tail
    return _LINK_RE.sub(fix, text)

def _drop(d: dict, *keys):
    for k in keys[:-1]: d = d.get(k) if isinstance(d.get(k), dict) else {}
    d.pop(keys[-1], None)

def _map_entries(entries, renames):  # navbar/sidebar entries: strings or dicts with href/contents
    out = []
    for e in entries or []:
        if isinstance(e, str): out.append(renames.get(e, e))
        elif isinstance(e, dict):
            e = dict(e)
            for k in ("href", "file"):
                if isinstance(e.get(k), str): e[k] = renames.get(e[k], e[k])
            for k in ("contents", "menu", "left", "right"):
                if isinstance(e.get(k), list): e[k] = _map_entries(e[k], renames)
            out.append(e)
        else: out.append(e)
    return out

def navbar_lessons(cfg: dict) -> list:  # [(href, text)] of the navbar entries that are notebooks
    "The notebooks the navbar links to, with their labels."
    nav = (cfg.get("website") or {}).get("navbar") or {}
    return [(e["href"], e.get("text", e["href"])) for side in ("left", "right") for e in nav.get(side) or []
            if isinstance(e, dict) and str(e.get("href", "")).endswith(".ipynb")]

def _nb_load(p: Path) -> dict: return json.loads(p.read_text(encoding="utf-8"))
def _nb_save(p: Path, nb: dict): p.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
def _src(c) -> str: return "".join(c.get("source", ""))

def _has_outputs(nb: dict) -> bool:
    return any(c.get("outputs") for c in nb.get("cells", []) if c.get("cell_type") == "code" and "show_doc" not in _src(c))

NO_STAMP = (f"{STAMP_MARKER}\n> **Saved outputs:** not recorded for this page. Run "
            "`python tools/docs_build.py run nbs/<notebook>` to execute it and record the torch version and hardware.")

def prepare(proc: Path, work: Path, out: Path, info: dict, nbs: Path) -> dict:
    "Copy `proc` into `work` and make it a smalldocs project that builds into `out`; return what was done."
    import yaml
    shutil.copytree(proc, work)
    renames = output_names(work)
    cfg = yaml.safe_load((work / "_quarto.yml").read_text(encoding="utf-8")) or {}
    # Quarto-only keys smalldocs reports as unknown; maths is rendered to MathML after smalldocs (render_maths)
    _drop(cfg, "format", "commonmark"); _drop(cfg, "format", "html", "keep-md"); _drop(cfg, "format", "html", "html-math-method")
    # lessons in the navbar that are not written yet
    stubs = []
    for href, text in navbar_lessons(cfg):
        if not (nbs / href).exists() and href not in renames:
            new = re.sub(r"^\d+_", "", href)
            if not (work / new).exists() and not (nbs / new).exists():
                renames[href] = new
                stubs.append(href)
                (work / new).with_suffix(".qmd").write_text(
                    f"---\ntitle: \"{text}\"\n---\n\n::: {{.callout-note}}\nThis lesson is being written. "
                    f"It will appear here when `nbs/{href}` is in the repository.\n:::\n", encoding="utf-8")
    web = cfg.setdefault("website", {})
    if isinstance(web.get("navbar"), dict):
        for side in ("left", "right"):
            web["navbar"][side] = _map_entries(web["navbar"].get(side), renames)
    (work / "_quarto.yml").write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")
    ny = yaml.safe_load((work / "nbdev.yml").read_text(encoding="utf-8")) or {}
    ny.pop("format-links", None)
    ny.setdefault("project", {})["output-dir"] = str(out)
    (work / "nbdev.yml").write_text(yaml.safe_dump(ny, sort_keys=False, allow_unicode=True), encoding="utf-8")
    sb = work / "sidebar.yml"
    if sb.exists():
        s = yaml.safe_load(sb.read_text(encoding="utf-8")) or {}
        bar = (s.get("website") or {}).get("sidebar") or {}
        if isinstance(bar, dict): bar["contents"] = _map_entries(bar.get("contents"), renames)
        sb.write_text(yaml.safe_dump(s, sort_keys=False, allow_unicode=True), encoding="utf-8")
    # the pages
    unstamped, unbadged = [], []
    for f in sorted(work.rglob("*.ipynb")):
        rel = f.relative_to(work).as_posix()
        nb = _nb_load(f)
        cells = nb.get("cells") or []
        if cells and cells[0].get("cell_type") == "raw":  # smalldocs ignores output-file: the page was renamed instead
            cells[0]["source"] = re.sub(r"^output-file:.*\n", "", _src(cells[0]), flags=re.M)
        for c in cells:
            if c.get("cell_type") == "markdown":
                c["source"] = rewrite_links(_src(c), rel, renames, info["site_url"])
            for o in c.get("outputs", []) or []:
                md = (o.get("data") or {}).get("text/markdown")
                if md is not None:
                    o["data"]["text/markdown"] = rewrite_links("".join(md), rel, renames, info["site_url"])
        if wants_badge(rel) and not _has_badge(nb):  # nbdev-proc-nbs adds it (doc_procs), as for the published site
            unbadged.append(rel)
        if read_stamp(nb) is None and _has_outputs(nb):
            set_stamp(nb, NO_STAMP)
            unstamped.append(rel)
        new = renames.get(rel, rel)
        _nb_save(f, nb)
        if new != rel: f.rename(work / new)
    return dict(renames=renames, stubs=stubs, unstamped=unstamped, unbadged=unbadged)

def reference_entries(root: Path) -> dict:  # {symbol: 'page.html#anchor'} for exported top-level functions and classes
    "The reference entries nbdev's index (`_modidx.py`) promises, without methods."
    ns = {}
    exec((root / "cifar_tutorial" / "_modidx.py").read_text(encoding="utf-8"), ns)
    return {name: doc for mod, syms in ns["d"]["syms"].items() for name, (doc, _) in syms.items()
            if name.count(".") == mod.count(".") + 1 and not name.rpartition(".")[2].startswith("_")}

def _ids(html: str) -> set: return set(re.findall(r'\bid="([^"]+)"', html))

def check_site(out: Path, work: Path, root: Path, renames: dict) -> list:  # the problems found
    "Check the built site for missing reference entries and missing pictures."
    problems = []
    for name, doc in sorted(reference_entries(root).items()):
        page, _, anchor = doc.partition("#")
        f = out / page
        if not f.exists():
            problems.append(f"{name}: its reference page {page} was not built")
        elif anchor and anchor not in _ids(f.read_text(encoding="utf-8")):
            problems.append(f"{name}: no reference entry #{anchor} on {page} (is it exported, with a docstring?)")
    for f in sorted(work.rglob("*.ipynb")):
        nb = _nb_load(f)
        pics = sum(1 for c in nb["cells"] if c.get("cell_type") == "code" and not re.search(r"^#\|\s*(output|include):\s*false", _src(c), re.M)
                   for o in c.get("outputs", []) or [] if set(o.get("data") or {}) & {"image/png", "image/jpeg", "image/svg+xml"})
        page = out / f.relative_to(work).with_suffix(".html")
        html = page.read_text(encoding="utf-8") if page.exists() else ""
        shown = len(re.findall(r'<img[^>]+src="data:image|<svg\b[^>]*xmlns', html))
        if pics and shown < pics:
            problems.append(f"{f.relative_to(work).as_posix()}: {pics} saved picture(s) but the page shows {shown}")
        blind = [t for t in re.findall(r"<img\b[^>]*>", html) if not re.search(r'\balt="[^"]*\w[^"]*"', t)]
        if blind:
            problems.append(f"{f.relative_to(work).as_posix()}: {len(blind)} picture(s) without alt text (give the cell `#| fig-alt: ...`)")
    return problems

# ---- the site with the network unplugged

def mathml(tex: str, display: bool = False) -> str:  # a <math> element, with the TeX as its alttext
    "Render TeX to MathML, which browsers draw natively: no script, no font download."
    from latex2mathml.converter import convert
    out = convert(tex, display="block" if display else "inline")
    unknown = re.findall(r">(\\[A-Za-z]+)<", out)   # latex2mathml writes a command it does not know as text
    if unknown: raise ValueError(f"latex2mathml does not know {', '.join(unknown)}")
    return out.replace("<math ", f'<math alttext="{html.escape(tex)}" ', 1)

_MATH_SPAN = re.compile(r'<span class="math (inline|display)">\\[(\[](.*?)\\[)\]]</span>', re.S)  # smalldocs' markup for KaTeX
_KATEX_TAG = re.compile(r'<(?:link|script)\b[^>]*\bkatex\b[^>]*>(?:</script>)?', re.I)
_CSS_IMPORT = re.compile(r'@import\s+url\(\s*["\']?(?:https?:)?//[^)]*\)\s*;?', re.I)  # web fonts in the Bootswatch themes

def render_maths(page: str) -> tuple:  # (the page with MathML instead of TeX, [formulas that failed])
    "Replace the TeX smalldocs leaves for KaTeX by MathML, and drop KaTeX's outside stylesheet and scripts."
    failed = []
    def sub(m):
        kind, tex = m.group(1), html.unescape(m.group(2))
        try: return f'<span class="math {kind}">{mathml(tex, kind == "display")}</span>'
        except Exception as e:  # noqa: BLE001 - reported with the formula
            failed.append(f"{tex!r} ({type(e).__name__}: {e})"); return m.group(0)
    page = _MATH_SPAN.sub(sub, page)
    return (_KATEX_TAG.sub("", page) if not failed else page), failed

def make_offline(out: Path, renames: dict, info: dict) -> list:  # the problems found
    "Make the built site work with the network unplugged (maths as MathML, system fonts) and point 'source' links at the real notebooks."
    problems = []
    blob = f"{info['repo_url']}/blob/{info['branch']}/{info['nbs']}/"
    for f in sorted(out.rglob("*.html")):
        text = f.read_text(encoding="utf-8")
        new, failed = render_maths(text)
        problems += [f"{f.relative_to(out).as_posix()}: cannot render the formula {x}" for x in failed]
        for old, renamed in renames.items():   # smalldocs links 'source' to the renamed page, not the notebook
            new = new.replace(f'"{blob}{renamed}"', f'"{blob}{old}"')
        if new != text: f.write_text(new, encoding="utf-8")
    for f in sorted(out.rglob("*.css")):
        text = f.read_text(encoding="utf-8")
        new = _CSS_IMPORT.sub("", text)
        if new != text: f.write_text(new, encoding="utf-8")
    return problems

_LOADS = re.compile(r"<(link|script|img|iframe|source|video|audio|embed|object|track|use|image)\b([^>]*)>", re.I)
_OUTSIDE = re.compile(r"^\s*(?:https?:)?//", re.I)

def outside_loads(out: Path) -> list:  # [(file, url)]: what a page would fetch from another host
    "Find every stylesheet, script, picture, frame or CSS import in the site that comes from another host."
    found = []
    for f in sorted(out.rglob("*")):
        if f.suffix not in (".html", ".css") or not f.is_file(): continue
        text = f.read_text(encoding="utf-8", errors="replace")
        urls = []
        if f.suffix == ".html":
            for tag, attrs in _LOADS.findall(text):
                rel = re.search(r'\brel="([^"]*)"', attrs)
                if tag.lower() == "link" and rel and set(rel.group(1).split()) <= {"canonical", "alternate", "license", "author", "me"}: continue
                urls += [u for _, u in re.findall(r'\b(src|href|data|poster|xlink:href)="([^"]*)"', attrs)]
                urls += [u.split()[0] for s in re.findall(r'\bsrcset="([^"]*)"', attrs) for u in s.split(",") if u.strip()]
            urls += re.findall(r"""\bimport\b[^'"]*['"]((?:https?:)?//[^'"]+)""", " ".join(re.findall(r"<script\b[^>]*>(.*?)</script>", text, re.S)))
        urls += re.findall(r"""url\(\s*['"]?((?:https?:)?//[^'")\s]+)""", text)
        urls += re.findall(r"""@import\s+['"]((?:https?:)?//[^'"]+)""", text)
        found += [(f.relative_to(out).as_posix(), u) for u in dict.fromkeys(urls) if _OUTSIDE.match(u)]
    return found

def _shim_quarto(env: dict, tmp: Path):
    "nbdev-proc-nbs tries to install Quarto (with sudo) when it is missing; a stub `quarto` on PATH stops that."
    if shutil.which("quarto", path=env.get("PATH")): return
    d = tmp / "bin"; d.mkdir()
    (d / "quarto").write_text("#!/bin/sh\necho 'quarto is not installed (offline docs build)' >&2\nexit 1\n")
    (d / "quarto").chmod(0o755)
    env["PATH"] = f"{d}{os.pathsep}{env.get('PATH', '')}"

def proc_nbs(root: Path, tmp: Path) -> Path:  # nbdev's _proc folder
    "Run `nbdev-proc-nbs --file-glob '*.ipynb'` in `root`, with the package importable."
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(root), env.get("PYTHONPATH", "")] if p)
    cache, procs = root / "_proc", root / "cifar_tutorial" / "_nbdev_procs.py"
    if cache.exists() and procs.exists() and procs.stat().st_mtime > cache.stat().st_mtime:
        shutil.rmtree(cache)   # nbdev keeps processed pages until a notebook changes; the processors changed
    _shim_quarto(env, tmp)
    cmd = [sys.executable, "-c", "from nbdev.quarto import nbdev_proc_nbs; nbdev_proc_nbs()", "--file-glob", "*.ipynb"]
    r = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"nbdev-proc-nbs failed (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")
    return root / "_proc"

def build(root=None, out=None, final: bool = False, keep: bool = False, quiet: bool = False) -> dict:
    "Build the docs website offline into `out` (default `_docs/`); raise `RuntimeError` on any problem."
    from smalldocs.cli import main as smalldocs
    t0 = time.time()
    root = project_root(root)
    info = repo_info(root)
    out = Path(out or root / "_docs").resolve()
    tmp = Path(tempfile.mkdtemp(prefix="cifar_docs_"))
    try:
        proc = proc_nbs(root, tmp)
        work = tmp / "site"
        done = prepare(proc, work, out, info, root / info["nbs"])
        args = ["render", "--strict", *(["--quiet"] if quiet else []), str(work)]
        if smalldocs(args):
            raise RuntimeError("smalldocs render --strict failed: fix the warnings above (a broken link names its page)")
        problems = make_offline(out, done["renames"], info)
        problems += [f"{p}: loads {u} from another host (the site must work offline)" for p, u in outside_loads(out)]
        problems += [f"{s}: no 'Open in Colab' badge; [tool.nbdev] doc_procs must name cifar_tutorial._nbdev_procs:ColabBadge" for s in done["unbadged"]]
        problems += check_site(out, work, root, done["renames"])
        if final:
            problems += [f"{s}: the navbar lists this lesson but it is not in nbs/" for s in done["stubs"]]
            problems += [f"{s}: no record of the torch version and hardware that produced its outputs (run `python tools/docs_build.py run nbs/...`)" for s in done["unstamped"]]
        if problems:
            raise RuntimeError("the docs site is incomplete:\n  " + "\n  ".join(problems))
        for s in done["stubs"]: print(f"note: {s} is not written yet; the site shows a placeholder page", file=sys.stderr)
        for s in done["unstamped"]: print(f"note: {s} has no record of what produced its outputs", file=sys.stderr)
        done.update(out=out, seconds=round(time.time() - t0, 1))
        if not quiet: print(f"docs built into {out} in {done['seconds']} s", file=sys.stderr)
        return done
    finally:
        if keep: print(f"kept the smalldocs project in {tmp / 'site'}", file=sys.stderr)
        else: shutil.rmtree(tmp, ignore_errors=True)

def _sections(md: str) -> list:  # [(heading, body)], the first one ('', preamble)
    parts, head, body, fence = [], "", [], False
    for line in md.splitlines():
        if line.lstrip().startswith(("```", "~~~")): fence = not fence
        if not fence and re.match(r"^#{1,2} ", line):
            parts.append((head, "\n".join(body).strip("\n"))); head, body = line.strip(), []
        else: body.append(line)
    parts.append((head, "\n".join(body).strip("\n")))
    return [p for p in parts if p != ("", "")]

def index_markdown(index: Path, nbs_prefix: str = "nbs/") -> str:
    "The markdown of the home page notebook, as README text: its markdown cells, with relative links into `nbs/`."
    nb = _nb_load(index)
    text = "\n\n".join(_src(c).strip() for c in nb["cells"] if c.get("cell_type") == "markdown")
    def fix(m):
        pre, href = m.groups()
        if re.match(r"^[a-zA-Z][\w+.-]*:|^//|^#|^/", href): return pre + href
        return pre + nbs_prefix + href
    return _LINK_RE.sub(fix, text)

def sync_readme(root=None, check: bool = False) -> list:  # the headings that differed
    "Make README.md carry every section of index.ipynb; with `check`, change nothing and return what differs."
    root = project_root(root)
    readme = root / "README.md"
    want = _sections(index_markdown(root / "nbs" / "index.ipynb"))
    have = _sections(readme.read_text(encoding="utf-8")) if readme.exists() else []
    norm = lambda s: re.sub(r"[ \t]+\n", "\n", s).strip()
    hmap = {h: i for i, (h, _) in enumerate(have)}
    diff = [h or "(title)" for h, b in want if h not in hmap or norm(have[hmap[h]][1]) != norm(b)]
    if check or not diff: return diff
    out, pos = list(have), 0
    for h, b in want:
        if h in hmap:
            i = next(j for j, (hh, _) in enumerate(out) if hh == h)
            out[i] = (h, b); pos = i + 1
        else:
            out.insert(pos, (h, b)); pos += 1
    readme.write_text("\n\n".join((f"{h}\n\n{b}" if h else b).strip() for h, b in out) + "\n", encoding="utf-8")
    return diff

def main(argv=None) -> int:  # the exit code
    "`python tools/docs_build.py [build|run NB...|readme [--check]]`"
    import argparse
    p = argparse.ArgumentParser(prog="python tools/docs_build.py", description="Contributor tools for the cifar_tutorial docs.")
    sub = p.add_subparsers(dest="cmd")
    b = sub.add_parser("build", help="build the website offline into _docs/ (the default)")
    b.add_argument("--out", help="output folder (default: _docs)")
    b.add_argument("--final", action="store_true", help="also fail on a missing lesson or a page without its torch/hardware record")
    b.add_argument("--keep", action="store_true", help="keep the smalldocs project for inspection")
    b.add_argument("--quiet", "-q", action="store_true")
    r = sub.add_parser("run", help="execute notebooks in place and record the torch version and hardware that produced their outputs")
    r.add_argument("notebooks", nargs="+")
    r.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    m = sub.add_parser("readme", help="copy the sections of nbs/index.ipynb into README.md")
    m.add_argument("--check", action="store_true", help="change nothing; exit 1 when README.md differs")
    a = p.parse_args(argv)
    try:
        if a.cmd in (None, "build"):
            build(out=getattr(a, "out", None), final=getattr(a, "final", False), keep=getattr(a, "keep", False), quiet=getattr(a, "quiet", False))
        elif a.cmd == "run":
            for nb in a.notebooks: print(f"{nb}: {run_notebook(nb, timeout=a.timeout).splitlines()[-1]}")
        elif a.cmd == "readme":
            diff = sync_readme(check=a.check)
            if diff and a.check:
                print("README.md differs from nbs/index.ipynb in: " + ", ".join(diff) + "\nRun `python tools/docs_build.py readme` and review.", file=sys.stderr)
                return 1
            print(("updated README.md: " + ", ".join(diff)) if diff else "README.md matches nbs/index.ipynb")
    except (RuntimeError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
