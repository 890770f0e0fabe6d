"""nbdev processors: for the course website the Colab badge, classes shown as classes and alt text on figures;
for `nbdev-export`, a guard that skips the generated translations in nbs/ko.

Hand-written, with no notebook: this is the one piece of the contributors' tooling that lives in the
package, because nbdev imports the processors named in pyproject.toml (`[tool.nbdev] doc_procs` for the job
that publishes the site, `export_procs` for `nbdev-export`) and can only import what is installed. `nbdev-proc-nbs` runs these processors for both builds, so
the published Quarto site and the offline build (`make docs`, tools/docs_build.py) show the same pages. They
only change the processed copies in `_proc/`, never a notebook. Everything else of the docs build is in tools/.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
from pathlib import Path

__all__ = ['TRANSLATION_NOTE_ID', 'is_translation', 'SkipTranslations', 'twin', 'LanguageLink', 'BADGE_FOLDERS', 'wants_badge', 'repo_info', 'colab_url', 'colab_badge', 'ColabBadge',
           'ClassSignatures', 'figure_alt', 'FigureAlt']

BADGE_FOLDERS = ('.', 'solutions', 'ko', 'ko/solutions')  # folders of nbs/ whose numbered notebooks get the badge
_NUMBERED = re.compile(r'^\d\d_.+\.ipynb$')


def wants_badge(rel) -> bool:  # whether notebook `rel` (relative to nbs/) is a lesson or a solution
    "Lessons (`nbs/NN_*.ipynb`) and their solutions (`nbs/solutions/NN_*.ipynb`) get an 'Open in Colab' badge."
    rel = Path(rel)
    return bool(_NUMBERED.match(rel.name)) and rel.parent.as_posix() in BADGE_FOLDERS


def repo_info(root=None) -> dict:  # repo_url, owner, repo, branch, site_url, nbs
    "Read the repository URL, branch and docs URL from pyproject.toml (nbdev's config), at or above `root`."
    from nbdev.config import get_config
    cfg = get_config(root)
    url = cfg.git_url.rstrip('/')
    m = re.match(r'https?://github\.com/([^/]+)/([^/]+?)(?:\.git)?$', url)
    if not m:
        raise ValueError(f"[project.urls] Repository in pyproject.toml must be a GitHub URL (https://github.com/OWNER/REPO), got {url!r}")
    site = (cfg.doc_host + cfg.doc_baseurl).rstrip('/') + '/'
    return dict(repo_url=url, owner=m.group(1), repo=m.group(2), branch=cfg.branch, site_url=site,
                nbs=cfg.nbs_path.name, nbs_path=str(cfg.nbs_path))


def colab_url(rel, info: dict) -> str:  # the URL that opens the notebook in Colab
    "The Colab URL of notebook `rel` (relative to nbs/) in the repository `info` describes."
    return f"https://colab.research.google.com/github/{info['owner']}/{info['repo']}/blob/{info['branch']}/{info['nbs']}/{Path(rel).as_posix()}"


def colab_badge(rel, info: dict) -> str:  # HTML for a markdown cell
    "An 'Open in Colab' badge for notebook `rel`: a styled link (see styles.css), no remote image."
    return f'<a class="colab-badge" href="{colab_url(rel, info)}">Open in Colab</a>'


def _src(cell) -> str:
    s = cell.get('source', '')
    return ''.join(s) if isinstance(s, list) else s


def _page(nb):  # (notebook path relative to nbs/, repo_info) for a notebook of the site, else None
    "Where notebook `nb` (as nbdev's processors get it) lies in nbs/, and the repository's settings."
    path = getattr(nb, 'path_', None)
    if path is None: return None
    path = Path(path).resolve()
    info = repo_info(path.parent)
    try: return path.relative_to(Path(info['nbs_path']).resolve()), info
    except ValueError: return None


def _put_on_top(nb, markdown: str):
    "Insert a markdown cell at the top of the page, after its front matter."
    from fastcore.nbio import mk_cell
    cells = nb.cells
    at = 1 if cells and cells[0].cell_type == 'raw' and _src(cells[0]).startswith('---') else 0
    cells.insert(at, mk_cell(markdown, 'markdown'))


class ColabBadge:
    "Doc processor: put the Colab badge at the top of a lesson or solution page (after its front matter)."
    def __init__(self, nb): self.nb = nb

    def end(self):
        page = _page(self.nb)
        if page is None: return
        rel, info = page
        if not wants_badge(rel) or any(c.cell_type == 'markdown' and 'colab-badge' in _src(c) for c in self.nb.cells): return
        _put_on_top(self.nb, colab_badge(rel, info))


# ---- a link to the same page in the other language

def twin(rel) -> tuple:  # (the other language's notebook relative to nbs/, its link text)
    "The counterpart of notebook `rel` (relative to nbs/): nbs/ko/X for nbs/X and back, with the link's text."
    rel = Path(rel)
    if rel.parts[:1] == ('ko',): return Path(*rel.parts[1:]), 'English'
    return Path('ko', *rel.parts), '한국어'


class LanguageLink:
    "Doc processor: a link at the top of every page that has a twin in the other language (English <-> Korean)."
    def __init__(self, nb): self.nb = nb

    def end(self):
        page = _page(self.nb)
        if page is None: return
        rel, info = page
        other, text = twin(rel)
        if not (Path(info['nbs_path']) / other).exists() or any('lang-link' in _src(c) for c in self.nb.cells): return
        href = '../' * (len(rel.parts) - 1) + other.as_posix()   # the build turns .ipynb links into the page's URL
        lang = 'en' if text == 'English' else 'ko'
        _put_on_top(self.nb, f'<span class="lang-link" lang="{lang}">[{text}]({href})</span>')   # a markdown link: both builds turn it into the page's URL


# ---- classes shown as classes

_HEAD = re.compile(r'^#+ ([\w.]+)\n\n```python\n(def (\w+)\()', re.M)  # show_doc's heading and signature
_SOURCE = re.compile(r'/blob/[^/]+/([\w/]+)\.py#L\d+')


def _lookup(module: str, qual: str):
    try: o = importlib.import_module(module)
    except Exception: return None  # noqa: BLE001 - an unresolvable symbol is left as nbdev wrote it
    for part in qual.split('.'):
        o = getattr(o, part, None)
        if o is None: return None
    return o


class ClassSignatures:
    "Doc processor: `show_doc` writes every callable as `def Name(...)`; make a class read `class Name(...)`."
    def __init__(self, nb):
        self.nb, self.bases = nb, {}
        for c in nb.cells:  # before the other processors run: the exported sources are still here
            if c.cell_type != 'code': continue
            try: tree = ast.parse(re.sub(r'^\s*[%!].*$', '', _src(c), flags=re.M))
            except SyntaxError: continue
            for n in ast.walk(tree):
                if isinstance(n, ast.ClassDef): self.bases[n.name] = [ast.unparse(b) for b in n.bases]

    def _bases(self, md: str, qual: str):  # the base-class names, or None when `qual` is not a class
        m = _SOURCE.search(md)
        cls = _lookup(m.group(1).replace('/', '.'), qual) if m else None
        if inspect.isclass(cls): return [b.__name__ for b in cls.__bases__ if b is not object]
        if cls is None and qual in self.bases: return self.bases[qual]
        return None

    def fix(self, md: str) -> str:  # the markdown of one show_doc output
        "Rewrite the signature of a class: `class` before its constructor's parameters, or its bases when it takes any arguments (an exception)."
        m = _HEAD.search(md)
        bases = self._bases(md, m[1]) if m else None
        if bases is None: return md
        sig = md[m.start(2):]
        new = re.sub(r'^def (\w+)\(\s*\*args, \*\*kwargs\s*\):', lambda s: f"class {s[1]}{'(' + ', '.join(bases) + ')' if bases else ''}:", sig, count=1)
        return md[:m.start(2)] + (new if new != sig else 'class ' + sig[4:])

    def __call__(self, cell):
        for o in cell.get('outputs', None) or []:
            data = o.get('data') or {}
            md = data.get('text/markdown')
            if md is None: continue
            md = ''.join(md) if isinstance(md, list) else md
            new = self.fix(md)
            if new != md:
                data['text/markdown'] = new
                plain = data.get('text/plain')
                if plain is not None:
                    plain = ''.join(plain) if isinstance(plain, list) else plain
                    data['text/plain'] = re.sub(r'^def ', 'class ', plain, count=1)


# ---- alt text on figures

_PICTURES = {'image/png', 'image/jpeg', 'image/svg+xml', 'image/gif'}
_STR = r"""(f?)(['"])((?:\\.|(?!\2).)*)\2"""


def _literal(pattern: str, src: str):
    m = re.search(pattern + r'\s*' + _STR, src)
    if not m: return None
    text = m.group(3)
    if m.group(1): text = re.sub(r'\{[^{}]*\}', '…', text)  # an f-string: placeholders are not known here
    return text.replace('\\n', ' ').strip() or None


def _plain(md: str) -> str:  # markdown as plain text
    md = re.sub(r'<!--.*?-->|<[^>]+>', '', md, flags=re.S)
    md = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', md)
    md = re.sub(r'^\s*(?:#+|>|[-*]|\d+\.)\s+', '', md, flags=re.M)
    return re.sub(r'\s+', ' ', re.sub(r'[*_`]', '', md)).strip()


def _package_doc(src: str, lib: str):  # the first line of the docstring of the last package function the cell calls
    try: syms = importlib.import_module(f'{lib}._modidx').d['syms']
    except Exception: return None  # noqa: BLE001
    where = {name.rpartition('.')[2]: mod for mod, names in syms.items() for name in names if name.count('.') == mod.count('.') + 1}
    for name in reversed(re.findall(r'(?<![\w.])(\w+)\(', src)):
        if name in where:
            doc = inspect.getdoc(_lookup(where[name], name)) or ''
            if doc: return doc.splitlines()[0]
    return None


def figure_alt(src: str,  # the code of the cell that draws the figure
               before: str = '',  # the markdown just above the cell
               lib: str = '',  # the package, whose plotting functions' docstrings describe their figures
              ) -> str:  # a sentence for the picture's alt text
    "Alt text for a figure: its title and axes, else the docstring of the package function that drew it, else the sentence above it."
    title = _literal(r'(?:\btitle\s*=|\.set_title\(|\bplt\.title\(|\bsuptitle\()', src)
    y, x = _literal(r'(?:\.set_ylabel\(|\bplt\.ylabel\()', src), _literal(r'(?:\.set_xlabel\(|\bplt\.xlabel\()', src)
    axes = f'{y} against {x}' if x and y else y or x
    text = ': '.join(p for p in (title, axes) if p)
    if not text and lib: text = _package_doc(src, lib)
    if not text:
        sentences = [s for s in re.split(r'(?<=[.!?:])\s+', _plain(before)) if s]
        text = sentences[-1].rstrip(':') if sentences else 'A figure'
    return _plain(text)[:300]


class FigureAlt:
    "Doc processor: a cell that outputs a picture gets `#| fig-alt:` (Quarto and smalldocs write it as the image's alt text) unless it has one."
    def __init__(self, nb):
        self.nb, self.before = nb, ''
        try:
            from nbdev.config import get_config
            self.lib = get_config().lib_name
        except Exception: self.lib = ''  # noqa: BLE001

    def __call__(self, cell):
        src = _src(cell)
        if cell.cell_type == 'markdown':
            if _plain(src): self.before = src
            return
        pictures = any(set(o.get('data') or {}) & _PICTURES for o in cell.get('outputs', None) or [])
        if cell.cell_type != 'code' or not pictures or re.search(r'^#\|\s*fig-alt\s*:', src, re.M): return
        cell.source = f'#| fig-alt: {json.dumps(figure_alt(src, self.before, self.lib), ensure_ascii=False)}\n' + src


TRANSLATION_NOTE_ID = 'i18n-generated'  # id of the note cell tools/i18n.py adds below the title of a translation


def is_translation(nb) -> bool:
    "A notebook that tools/i18n.py generated (it holds the note cell), e.g. nbs/ko/01_autograd.ipynb."
    return any(c.get('id') == TRANSLATION_NOTE_ID for c in nb.get('cells', [])[:3])


class SkipTranslations:
    """An nbdev export processor (`export_procs` in pyproject.toml) that makes `nbdev-export` ignore generated
    translations: their `#| default_exp`/`#| export` cells equal the English ones, and exporting them would
    rewrite the package's modules from the Korean copy. nbdev builds it with the notebook before any cell is
    processed; emptying the cell list leaves nothing to export."""
    def __init__(self, nb=None, **kwargs):
        if nb is not None and is_translation(nb): nb.cells.clear()
    def __call__(self, cell): return None
