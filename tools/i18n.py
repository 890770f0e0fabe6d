#!/usr/bin/env python
"""Korean edition of the course: gettext catalogs, generated notebooks, and the sync gate.

The English notebooks in nbs/ are the source. Each one has a catalog po/ko/<path>.po (msgid = the English
text, msgctxt = notebook#cell/part), and the Korean notebook nbs/ko/<path>.ipynb is *generated* from the two:
markdown replaced by its translation, code cells keeping the English code and saved outputs with only their
comments translated (found with `tokenize`, so code and strings never change), nbdev `#|` directives as they are.

    python tools/i18n.py status              which notebooks have a catalog, and how complete each is
    python tools/i18n.py update [NB ...]     merge the current English into the catalogs (new catalogs too);
                                             a changed English text marks its entry fuzzy, old translation kept
    python tools/i18n.py build [NB ...]      regenerate nbs/ko/ (and the glossary page) from the catalogs
    python tools/i18n.py sync [NB ...]       update, then build (after editing or re-running an English notebook)
    python tools/i18n.py check [NB ...]      the sync gate: catalogs current, every entry translated (no fuzzy),
                                             regenerating changes nothing; --require-all: every notebook has one

NB is an English notebook path (nbs/00_tensors.ipynb) or its name (00_tensors); default: every notebook that
has a catalog (update: every English notebook given, or those with a catalog).
Catalogs are ordinary gettext .po files: edit them in Poedit, Weblate or a text editor, then `build`.
"""
from __future__ import annotations

import argparse
import csv
import difflib
import functools
import io
import json
import os
import re
import sys
import time
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import polib

LANG = "ko"
ROOT = Path(__file__).resolve().parent.parent
from cifar_tutorial._nbdev_procs import TRANSLATION_NOTE_ID as NOTE_ID  # noqa: E402  (nbdev-export skips such notebooks)

NOTEST = ".notest"        # nbdev-test skips every notebook in a folder holding this file
HEADER = {
    "Project-Id-Version": "cifar_tutorial",
    "Language": LANG,
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=UTF-8",
    "Content-Transfer-Encoding": "8bit",
    "Plural-Forms": "nplurals=1; plural=0;",
}
STAMP_MARKER = "<!-- outputs-produced-with -->"  # docs_build's saved-outputs stamp (machine-written each run)
STAMP_RE = re.compile(r"^> \*\*Saved outputs:\*\* produced by running this notebook top to bottom with (?P<details>.*)$",
                      re.DOTALL)
STAMP_MSGID = "**Saved outputs:** produced by running this notebook top to bottom with {details}"


class I18nError(Exception):
    "A problem the contributor has to fix; the message says what and how."


# ---------------------------------------------------------------------------------------------- paths
@functools.cache
def _rel(nb: Path, nbs: Path) -> str: return nb.resolve().relative_to(nbs.resolve()).as_posix()


@dataclass
class Paths:
    root: Path

    @property
    def nbs(self): return self.root / "nbs"
    @property
    def ko(self): return self.nbs / LANG
    @property
    def po(self): return self.root / "po" / LANG
    @property
    def glossary(self): return self.po / "glossary.csv"

    def english(self) -> list[Path]:
        "The English notebooks translated: lessons, solutions and index (nbs/api pages are reference, not course)."
        out = sorted(self.nbs.glob("[0-9]*.ipynb")) + sorted((self.nbs / "solutions").glob("*.ipynb"))
        return out + [self.nbs / "index.ipynb"]

    def rel(self, nb: Path) -> str: return _rel(nb, self.nbs)
    def catalog(self, nb: Path) -> Path: return self.po / Path(self.rel(nb)).with_suffix(".po")
    def korean(self, nb: Path) -> Path: return self.ko / self.rel(nb)

    def resolve(self, names: list[str]) -> list[Path]:
        "English notebooks named by path (nbs/00_tensors.ipynb) or by name (00_tensors)."
        known = {p.stem: p.resolve() for p in self.english()}
        out = []
        for n in names:
            p = Path(n)
            if p.suffix == ".ipynb" and p.exists() and p.resolve() in known.values(): out.append(p.resolve())
            elif p.suffix in ("", ".ipynb") and p.stem in known and not p.exists(): out.append(known[p.stem])
            else:
                raise I18nError(f"{n!r} is not an English course notebook; give a path such as nbs/00_tensors.ipynb "
                                f"or a name such as 00_tensors (known: {', '.join(sorted(known))}).")
        return out

    def with_catalog(self) -> list[Path]: return [p for p in self.english() if self.catalog(p).exists()]


# ---------------------------------------------------------------------------------------------- notebooks
def read_nb(p: Path) -> dict: return json.loads(p.read_text(encoding="utf-8"))
def nb_str(nb: dict) -> str: return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"  # as nbdev-clean
def src(cell) -> str: return "".join(cell.get("source", ""))
def to_lines(s: str) -> list[str]: return s.splitlines(keepends=True)


# ---------------------------------------------------------------------------------------------- segments
# A cell is cut into a list of segments: str (kept as is) or Unit (translated). Joining the segments, with each
# unit rendered from its translation, gives the Korean cell; with its msgid, the English cell back.
@dataclass
class Unit:
    ctxt: str
    msgid: str
    kind: str                 # what the translator sees in the catalog's `#.` comment
    render: object            # function: translation -> text put in the cell
    single_line: bool = False


@dataclass
class CellParts:
    cell_id: str
    segs: list = field(default_factory=list)

    def units(self): return [s for s in self.segs if isinstance(s, Unit)]

    def text(self, tr: dict | None = None) -> str:
        out = []
        for s in self.segs:
            if isinstance(s, str): out.append(s)
            else: out.append(s.render(s.msgid if tr is None else tr[s.ctxt]))
        return "".join(out)


_LIST_RE = re.compile(r"^( {0,3})([-*+]|\d{1,3}[.)])( +)(?=\S)")
_HEAD_RE = re.compile(r"^(#{1,6} +)(.*)$")
_FENCE_RE = re.compile(r"^ {0,3}(```+|~~~+)(.*)$")


def _indent(text: str, first: str, rest: str) -> str:
    ls = text.split("\n")
    return "\n".join([first + ls[0]] + [(rest + l) if l.strip() else l.rstrip() for l in ls[1:]])


def _md_blocks(text: str) -> list:
    "Split markdown into blank-line separated blocks (fences kept whole); returns [str | ('block', text)]."
    lines, out, cur, fence = text.split("\n"), [], [], None
    def flush():
        if cur: out.append(("block", "\n".join(cur))); cur.clear()
    for i, l in enumerate(lines):
        m = _FENCE_RE.match(l)
        if fence:
            cur.append(l)
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not m.group(2).strip():
                fence = None
            continue
        if m: fence = m.group(1)
        if not l.strip() and fence is None:
            flush(); out.append(l)
        else: cur.append(l)
    flush()
    # rejoin with the newlines between lines as separators
    res = []
    for j, item in enumerate(out):
        if j: res.append("\n")
        res.append(item)
    return res


def _split_block(b: str) -> list[str]:
    "A block of lines with no blank line: heading lines stand alone; a list that follows a paragraph is split off."
    lines, parts, cur = b.split("\n"), [], []
    if _FENCE_RE.match(lines[0]): return [b]
    for l in lines:
        if _HEAD_RE.match(l) and not l.startswith("#|"):
            if cur: parts.append("\n".join(cur)); cur = []
            parts.append(l); continue
        if _LIST_RE.match(l) and cur and not _LIST_RE.match(cur[0]) and not cur[0].startswith((">", "|")):
            parts.append("\n".join(cur)); cur = []
        cur.append(l)
    if cur: parts.append("\n".join(cur))
    return parts


def _list_items(b: str) -> list[tuple[str, str, str]]:
    "Items of a list block: (marker incl. indent, item text dedented, continuation indent)."
    items = []
    for l in b.split("\n"):
        m = _LIST_RE.match(l)
        if m and len(m.group(1)) == len(_LIST_RE.match(b).group(1)):
            items.append([m.group(0), [l[m.end():]]])
        else:
            items[-1][1].append(l)
    out = []
    for marker, ls in items:
        rest = [l for l in ls[1:] if l.strip()]
        w = min((len(l) - len(l.lstrip(" ")) for l in rest), default=len(marker))
        body = [ls[0]] + [l[w:] for l in ls[1:]]
        out.append((marker, "\n".join(body), " " * w))
    return out


def md_parts(text: str, ctx: str, cell_id: str) -> CellParts:
    cp, n = CellParts(cell_id), [0]
    def unit(msgid, kind, render, single=False):
        n[0] += 1
        cp.segs.append(Unit(f"{ctx}#{cell_id}/{n[0]}", msgid, kind, render, single))

    if text.startswith(STAMP_MARKER):
        body = text[len(STAMP_MARKER):].lstrip("\n")
        m = STAMP_RE.match(body)
        if m:
            details = m.group("details")
            cp.segs.append(text[: len(text) - len(body)])
            unit(STAMP_MSGID, "saved-outputs stamp (keep {details}: the torch version, hardware and date, in English)",
                 lambda t, d=details: "> " + t.replace("{details}", d).replace("\n", "\n> "), True)
            return cp

    for item in _md_blocks(text):
        if isinstance(item, str): cp.segs.append(item); continue
        subs = _split_block(item[1])
        for k, b in enumerate(subs):
            if k: cp.segs.append("\n")
            first = b.split("\n")[0]
            fm = _FENCE_RE.match(first)
            hm = _HEAD_RE.match(b) if "\n" not in b else None
            if fm:
                lang = fm.group(2).strip().lower()
                if lang in ("python", "py", "python3"):
                    body_lines = b.split("\n")
                    inner = "\n".join(body_lines[1:-1]) + "\n"
                    code = code_parts(inner, ctx, f"{cell_id}/{n[0] + 1}")
                    if code.units():
                        n[0] += 1
                        cp.segs.append(body_lines[0] + "\n")
                        # strip the trailing newline we added
                        code.segs[-1] = code.segs[-1][:-1] if isinstance(code.segs[-1], str) else code.segs[-1]
                        cp.segs.extend(code.segs)
                        cp.segs.append("\n" + body_lines[-1])
                        continue
                cp.segs.append(b)
            elif hm:
                mark = hm.group(1)
                unit(hm.group(2), f"heading {mark.strip()}", lambda t, p=mark: p + t, True)
            elif b.startswith("<!--") or not re.search(r"[A-Za-z]", b):
                cp.segs.append(b)
            elif all(l.startswith(">") for l in b.split("\n")):
                inner = "\n".join(l[2:] if l.startswith("> ") else l[1:] for l in b.split("\n"))
                kind = "learner question box" if inner.lstrip().startswith("**Learner question") else "quoted block"
                unit(inner, kind, lambda t: "\n".join(("> " + l) if l else ">" for l in t.split("\n")))
            elif _LIST_RE.match(first):
                for j, (marker, body, cont) in enumerate(_list_items(b)):
                    if j: cp.segs.append("\n")
                    unit(body, "list item", lambda t, m=marker, c=cont: _indent(t, m, c))
            elif first.startswith("|"):
                unit(b, "table (keep the | columns and the links)", lambda t: t)
            else:
                unit(b, "paragraph", lambda t: t)
    return cp


# ---------------------------------------------------------------------------------------------- code comments
def _tokens(code: str):
    return list(tokenize.generate_tokens(io.StringIO(code).readline))


def _mask_magics(code: str) -> str:
    "Blank out IPython lines (%magic, !shell) so tokenize reads the rest; line numbers are kept."
    return "\n".join("" if l.lstrip().startswith(("%", "!")) else l for l in code.split("\n"))


def code_parts(code: str, ctx: str, cell_id: str, unit_prefix: str = "c") -> CellParts:
    "Segments of a code cell: comments (not `#|` directives) are units, everything else is kept byte for byte."
    cp = CellParts(cell_id)
    try: toks = _tokens(_mask_magics(code))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        cp.segs.append(code); return cp
    lines = code.split("\n")
    comments = []  # (row, col, text, full_line)
    for t in toks:
        if t.type != tokenize.COMMENT: continue
        (row, col), s = t.start, t.string
        if s.startswith(("#|", "#!")): continue
        full = lines[row - 1][:col].strip() == ""
        comments.append((row, col, s, full))
    # group consecutive full-line comments at the same column into one block
    groups = []
    for c in comments:
        g = groups[-1] if groups else None
        if g and c[3] and g[-1][3] and c[0] == g[-1][0] + 1 and c[1] == g[0][1]: g.append(c)
        else: groups.append([c])
    if not groups:
        cp.segs.append(code); return cp
    # offsets of line starts
    starts, pos = [], 0
    for l in lines: starts.append(pos); pos += len(l) + 1
    cur = 0
    for n, g in enumerate(groups, 1):
        r0, c0 = g[0][0], g[0][1]
        r1, c1, s1 = g[-1][0], g[-1][1], g[-1][2]
        a, b = starts[r0 - 1] + c0, starts[r1 - 1] + c1 + len(s1)
        texts = [re.sub(r"^#+ ?", "", c[2]) for c in g]
        hashes = re.match(r"^#+ ?", g[0][2]).group(0)
        cp.segs.append(code[cur:a])
        full = g[0][3]
        if full:
            pad = lines[r0 - 1][:c0]
            render = (lambda t, h=hashes, p=pad: "\n".join(((p if i else "") + h + l).rstrip()
                                                            for i, l in enumerate(t.split("\n"))))
            kind = "code comment (own line" + ("s)" if len(g) > 1 else ")")
        else:
            render = (lambda t, h=hashes: h + t)
            kind = "code comment (after code: one line)"
        cp.segs.append(Unit(f"{ctx}#{cell_id}/{unit_prefix}{n}", "\n".join(texts), kind, render, not full))
        cur = b
    cp.segs.append(code[cur:])
    return cp


def strip_comments(code: str) -> tuple[list, list]:
    "(directive lines, tokens without comments and non-logical newlines) — what must be equal across languages."
    dirs = [l.strip() for l in code.split("\n") if l.strip().startswith("#|")]
    toks = _tokens(_mask_magics(code))
    magics = [l for l in code.split("\n") if l.lstrip().startswith(("%", "!"))]
    keep = [(t.type, t.string) for t in toks if t.type not in (tokenize.COMMENT, tokenize.NL)]
    return dirs, keep + [("MAGIC", m) for m in magics]


# ---------------------------------------------------------------------------------------------- extraction
def notebook_parts(paths: Paths, nb_path: Path, nb: dict | None = None) -> list[CellParts]:
    nb = read_nb(nb_path) if nb is None else nb
    ctx, out = paths.rel(nb_path), []
    for c in nb["cells"]:
        cid, text = c.get("id") or "", src(c)
        if c["cell_type"] == "markdown": cp = md_parts(text, ctx, cid)
        elif c["cell_type"] == "code": cp = code_parts(text, ctx, cid)
        else: cp = CellParts(cid, [text])
        if cp.text() != text:  # markdown this splitter does not rebuild exactly: the whole cell is one entry
            cp = CellParts(cid, [Unit(f"{ctx}#{cid}/1", text, "whole cell", lambda t: t)]) if c["cell_type"] == "markdown" \
                else CellParts(cid, [text])
        out.append(cp)
    return out


def extract(paths: Paths, nb_path: Path) -> list[Unit]:
    units = [u for cp in notebook_parts(paths, nb_path) for u in cp.units()]
    seen = set()
    for u in units:
        if u.ctxt in seen:
            raise I18nError(f"{paths.rel(nb_path)}: two cells share the id in {u.ctxt!r}; run `nbdev-clean` "
                            "(it gives every cell its own id) and try again.")
        seen.add(u.ctxt)
    return units


def _occ(paths: Paths, nb_path: Path, u: Unit):
    return [(f"nbs/{paths.rel(nb_path)}", u.ctxt.split("#", 1)[1].split("/")[0])]


def _new_po() -> polib.POFile:
    po = polib.POFile(wrapwidth=0)
    po.header = ("Korean (ko) translation of a cifar_tutorial notebook. msgid: the English (do not edit);\n"
                 "msgstr: the Korean. After editing run `python tools/i18n.py build`; tools/i18n.py explains the rest.")
    po.metadata = dict(HEADER)
    return po


def load_po(p: Path) -> polib.POFile:
    return polib.pofile(str(p), wrapwidth=0, encoding="utf-8")


def save_po(po: polib.POFile, p: Path) -> bool:
    p.parent.mkdir(parents=True, exist_ok=True)
    text = po.__unicode__() if hasattr(po, "__unicode__") else str(po)
    text = text if text.endswith("\n") else text + "\n"
    old = p.read_text(encoding="utf-8") if p.exists() else None
    if text != old: p.write_text(text, encoding="utf-8"); return True
    return False


def merge(paths: Paths, nb_path: Path, old: polib.POFile | None) -> tuple[polib.POFile, dict]:
    """The catalog for the current English, keeping what `old` holds (msgmerge's rules):
    same context and text -> kept; same text elsewhere -> translation reused; same context, new text -> fuzzy
    with the old translation and the previous English kept (#| msgid); a new text close to an old one -> fuzzy;
    otherwise new and untranslated. Entries whose English is gone are dropped (git keeps them)."""
    units = extract(paths, nb_path)
    old_entries = [e for e in (old or []) if not e.obsolete] if old is not None else []
    by_key = {(e.msgctxt, e.msgid): e for e in old_entries}
    by_ctx = {e.msgctxt: e for e in old_entries}
    by_id = {}
    for e in old_entries:
        if e.msgstr and "fuzzy" not in e.flags: by_id.setdefault(e.msgid, e)
    used, stats = set(), {"kept": 0, "reused": 0, "fuzzy": 0, "new": 0}
    po = _new_po()
    if old is not None: po.metadata.update({k: v for k, v in old.metadata.items() 
                                            if k.startswith(("Last-Translator", "Language-Team"))})
    pending = []
    for u in units:
        e = polib.POEntry(msgctxt=u.ctxt, msgid=u.msgid, msgstr="", comment=u.kind,
                          occurrences=_occ(paths, nb_path, u))
        o = by_key.get((u.ctxt, u.msgid))
        if o is not None:
            e.msgstr, e.flags, e.tcomment = o.msgstr, list(o.flags), o.tcomment
            e.previous_msgid = o.previous_msgid if "fuzzy" in o.flags else None
            used.add(id(o)); stats["kept"] += 1
        elif u.msgid in by_id:
            o = by_id[u.msgid]; e.msgstr, e.tcomment = o.msgstr, o.tcomment; stats["reused"] += 1
        elif u.ctxt in by_ctx and by_ctx[u.ctxt].msgstr:
            o = by_ctx[u.ctxt]
            e.msgstr, e.tcomment, e.flags = o.msgstr, o.tcomment, ["fuzzy"]
            e.previous_msgid = o.previous_msgid or o.msgid
            used.add(id(o)); stats["fuzzy"] += 1
        else:
            pending.append(e)
        po.append(e)
    # close matches for what is left (a paragraph edited and moved)
    spare = [o for o in old_entries if id(o) not in used and o.msgstr]
    for e in pending:
        best = max(spare, key=lambda o: difflib.SequenceMatcher(None, o.msgid, e.msgid).ratio(), default=None)
        if best is not None and difflib.SequenceMatcher(None, best.msgid, e.msgid).ratio() >= 0.6:
            e.msgstr, e.flags, e.previous_msgid = best.msgstr, ["fuzzy"], best.msgid
            spare.remove(best); stats["fuzzy"] += 1
        else: stats["new"] += 1
    return po, stats


# ---------------------------------------------------------------------------------------------- generation
def note_cell(paths: Paths, nb_path: Path) -> dict:
    rel = paths.rel(nb_path)
    up = "../" * (len(Path(rel).parts))
    text = (f"*이 노트북은 영어 원본 [`nbs/{rel}`]({up}{rel})과 번역 카탈로그 `po/{LANG}/{Path(rel).with_suffix('.po').as_posix()}`에서 "
            "`python tools/i18n.py build`로 생성한 파일입니다. 고칠 곳이 있으면 이 파일이 아니라 카탈로그를 고쳐 주세요.*")
    return {"cell_type": "markdown", "id": NOTE_ID, "metadata": {}, "source": to_lines(text)}


def translations(paths: Paths, nb_path: Path, po: polib.POFile, strict: bool = True) -> dict:
    "msgctxt -> text to use; raises I18nError listing every entry that is missing, fuzzy or malformed."
    tr, problems = {}, []
    have = {e.msgctxt: e for e in po if not e.obsolete}
    cmd = f"python tools/i18n.py update nbs/{paths.rel(nb_path)}"
    for u in extract(paths, nb_path):
        e = have.get(u.ctxt)
        where = f"nbs/{paths.rel(nb_path)} cell {u.ctxt.split('#', 1)[1]} ({u.kind})"
        if e is None or e.msgid != u.msgid:
            problems.append(f"{where}: the English changed since the catalog was updated; run `{cmd}`, then "
                            f"translate the entries it marks fuzzy in {paths.catalog(nb_path).relative_to(paths.root)}")
        elif not e.msgstr:
            problems.append(f"{where}: not translated yet; translate it in {paths.catalog(nb_path).relative_to(paths.root)}")
        elif "fuzzy" in e.flags:
            problems.append(f"{where}: fuzzy (its English changed); check the translation against the new English in "
                            f"{paths.catalog(nb_path).relative_to(paths.root)}, then remove the `#, fuzzy` line")
        elif u.single_line and "\n" in e.msgstr.strip("\n"):
            problems.append(f"{where}: must be one line (it follows code on the same line, or is a heading)")
        elif "{details}" in u.msgid and "{details}" not in e.msgstr:
            problems.append(f"{where}: the translation must keep the placeholder {{details}}")
        else:
            tr[u.ctxt] = e.msgstr
    if problems and strict: raise I18nError("\n".join(problems))
    return tr


_LINK_RE = re.compile(r"(\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")


def fix_links(paths: Paths, nb_path: Path, text: str, translated: set | None = None) -> str:
    """Relative links keep working from nbs/ko/: a link to a course notebook that has a catalog goes to its Korean
    twin (same relative path); any other relative link (a lesson not translated yet, an API page, an image) goes
    to the English file. `build` rewrites them again when a catalog is added."""
    eng_dir, ko_dir = nb_path.parent, paths.korean(nb_path).parent
    translated = {p.resolve() for p in paths.with_catalog()} if translated is None else translated
    def sub(m):
        target = m.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith(("#", "/")): return m.group(0)
        path, _, anchor = target.partition("#")
        dest = (eng_dir / path).resolve()
        if dest in translated or not dest.exists(): return m.group(0)
        new = os.path.relpath(dest, ko_dir).replace(os.sep, "/") + (f"#{anchor}" if anchor else "")
        return m.group(1) + new + m.group(3)
    return _LINK_RE.sub(sub, text)


def generate(paths: Paths, nb_path: Path, po: polib.POFile | None = None) -> str:
    "The Korean notebook's file text."
    po = load_po(paths.catalog(nb_path)) if po is None else po
    nb = read_nb(nb_path)
    tr = translations(paths, nb_path, po)
    parts = notebook_parts(paths, nb_path, nb)
    translated = {p.resolve() for p in paths.with_catalog()}
    cells = []
    for c, cp in zip(nb["cells"], parts):
        k = dict(c)
        if c["cell_type"] == "markdown": k["source"] = to_lines(fix_links(paths, nb_path, cp.text(tr), translated))
        elif c["cell_type"] == "code": k["source"] = to_lines(cp.text(tr))
        cells.append(k)
    at = 1 if cells and cells[0]["cell_type"] == "markdown" and src(cells[0]).startswith("# ") else 0
    cells.insert(at, note_cell(paths, nb_path))
    return nb_str({**nb, "cells": cells})


def glossary_rows(paths: Paths) -> list[dict]:
    with open(paths.glossary, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def glossary_page(paths: Paths) -> str:
    rows = glossary_rows(paths)
    def esc(s): return s.replace("|", "\\|")
    table = ["| 영어 | 이 강좌의 번역어 | 흔히 쓰는 다른 말 | 근거와 결정 |", "|---|---|---|---|"]
    for r in rows:
        table.append(f"| {esc(r['english'])} | {esc(r['korean'])} | {esc(r['alternatives']) or '—'} | {esc(r['note'])} |")
    cells = [
        "# 용어집\n\n> 한국어판에서 쓰는 번역어와 그렇게 정한 이유",
        ("이 강좌의 한국어판은 [PyTorch 한국어 튜토리얼](https://tutorials.pytorch.kr)(PyTorchKorea/tutorials-kr)의 "
        "[번역 가이드](https://github.com/PyTorchKorea/tutorials-kr/blob/master/TRANSLATION_GUIDE.md)에 용어가 있으면 "
        "그 용어를 따르고, 없거나 헷갈리기 쉬운 용어는 아래 표에서 명시적으로 정합니다. 처음 나올 때는 `번역어(영어)`처럼 "
        "영어를 함께 적습니다. 코드, 함수 이름, 출력 결과는 번역하지 않습니다.\n\n"
        f"이 표는 `po/{LANG}/glossary.csv`에서 생성합니다. 테스트(`tests/test_i18n.py`)는 번역 카탈로그의 영어 원문에 "
        "표의 영어 용어가 있으면 번역문에 이 강좌의 번역어가 들어 있는지 확인합니다."),
        "\n".join(table),
    ]
    nb = {"cells": [{"cell_type": "markdown", "id": f"g{i:03d}", "metadata": {}, "source": to_lines(t)}
                    for i, t in enumerate(cells)],
          "metadata": {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    return nb_str(nb)


_PROSE_DROP = re.compile(r"```.*?```|`[^`\n]*`|\]\([^)]*\)|<!--.*?-->|https?://\S+|\{details\}", re.DOTALL)


def glossary_problems(paths: Paths, nb_path: Path, po: polib.POFile, rows: list[dict] | None = None) -> list[str]:
    """Entries whose English uses a glossary term (outside code, links and URLs) while the translation lacks the
    Korean term the glossary chose. Longer terms are matched first and hide the shorter ones they contain."""
    rows = glossary_rows(paths) if rows is None else rows
    rows = sorted(rows, key=lambda r: -len(r["english"]))
    pats = [(r, re.compile(r"(?<![\w-])(?:" + r["pattern"] + r")(?![\w-])", re.IGNORECASE)) for r in rows]
    problems = []
    for e in po:
        if e.obsolete or not e.msgstr or "fuzzy" in e.flags: continue
        text, tr = _PROSE_DROP.sub(" ", e.msgid), re.sub(r"\s+", " ", e.msgstr).casefold()   # a term may wrap
        for r, pat in pats:
            found = pat.findall(text)
            if not found: continue
            if r["korean"].casefold() not in tr:
                problems.append(f"nbs/{paths.rel(nb_path)} cell {e.msgctxt.split('#', 1)[1]}: the English says "
                                f"{r['english']!r}; the glossary's term is {r['korean']!r} (po/{LANG}/glossary.csv), "
                                f"not in the translation {e.msgstr[:60]!r}")
            text = pat.sub(" ", text)
    return problems


def expected_files(paths: Paths, nbs: list[Path], with_glossary=True, done: dict | None = None) -> dict[Path, str]:
    out = {}
    for nb in nbs: out[paths.korean(nb)] = (done or {}).get(nb) or generate(paths, nb)
    if with_glossary and paths.glossary.exists(): out[paths.ko / "glossary.ipynb"] = glossary_page(paths)
    folders = {paths.ko} | {p.parent for p in out}
    for d in folders: out[d / NOTEST] = ("nbdev-test skips the notebooks in this folder: they run the same code as "
                                        "the English notebooks (tools/i18n.py)\n")
    return out


# ---------------------------------------------------------------------------------------------- nbdev guard
# is_translation and SkipTranslations live in the package (cifar_tutorial/_nbdev_procs.py): nbdev-export must import them.


# ---------------------------------------------------------------------------------------------- commands
def cmd_status(paths: Paths, args) -> int:
    for nb in paths.english():
        cat = paths.catalog(nb)
        if not cat.exists(): print(f"  {'no catalog':<28} nbs/{paths.rel(nb)}"); continue
        po = load_po(cat)
        es = [e for e in po if not e.obsolete]
        n_t = sum(1 for e in es if e.msgstr and "fuzzy" not in e.flags)
        n_f = sum(1 for e in es if "fuzzy" in e.flags)
        print(f"  {n_t:>3}/{len(es):<3} translated, {n_f} fuzzy  nbs/{paths.rel(nb)}")
    return 0


def cmd_update(paths: Paths, args) -> int:
    nbs = paths.resolve(args.notebooks) if args.notebooks else paths.with_catalog()
    for nb in nbs:
        cat = paths.catalog(nb)
        po, st = merge(paths, nb, load_po(cat) if cat.exists() else None)
        changed = save_po(po, cat)
        print(f"{cat.relative_to(paths.root)}: {st['kept']} kept, {st['reused']} reused, {st['fuzzy']} fuzzy, "
              f"{st['new']} new{'' if changed else ' (unchanged)'}")
    return 0


def cmd_build(paths: Paths, args) -> int:
    nbs = paths.resolve(args.notebooks) if args.notebooks else paths.with_catalog()
    for p, text in expected_files(paths, nbs).items():
        old = p.read_text(encoding="utf-8") if p.exists() else None
        if text != old:
            p.parent.mkdir(parents=True, exist_ok=True); p.write_text(text, encoding="utf-8")
            print(f"wrote {p.relative_to(paths.root)}")
    return 0


def cmd_sync(paths: Paths, args) -> int:
    cmd_update(paths, args)
    try: return cmd_build(paths, args)
    except I18nError as e:
        print(f"catalogs updated; translate what is listed, then `python tools/i18n.py build`:\n{e}"); return 1


def check(paths: Paths, nbs: list[Path] | None = None, require_all=False) -> list[str]:
    "Every problem the sync gate finds (empty: in sync)."
    problems = []
    all_nbs = paths.english()
    if nbs is None: nbs = paths.with_catalog()
    missing = [nb for nb in all_nbs if not paths.catalog(nb).exists()]
    if require_all:
        for nb in missing:
            problems.append(f"nbs/{paths.rel(nb)} has no Korean catalog; run `python tools/i18n.py update "
                            f"nbs/{paths.rel(nb)}`, translate {paths.catalog(nb).relative_to(paths.root)}, then "
                            "`python tools/i18n.py build`")
    ok_nbs, done = [], {}
    for nb in nbs:
        if not paths.catalog(nb).exists():
            problems.append(f"nbs/{paths.rel(nb)} has no catalog ({paths.catalog(nb).relative_to(paths.root)}); run "
                            f"`python tools/i18n.py update nbs/{paths.rel(nb)}`"); continue
        try: done[nb] = generate(paths, nb); ok_nbs.append(nb)
        except I18nError as e: problems.extend(str(e).split("\n"))
        if paths.glossary.exists(): problems.extend(glossary_problems(paths, nb, load_po(paths.catalog(nb))))
    for p, text in expected_files(paths, ok_nbs, with_glossary=True, done=done).items():
        old = p.read_text(encoding="utf-8") if p.exists() else None
        if text != old:
            problems.append(f"{p.relative_to(paths.root)} is not what the catalogs generate "
                            f"({'missing' if old is None else 'edited by hand or stale'}); run `python tools/i18n.py build`")
    # Korean notebooks whose English notebook is gone
    if paths.ko.exists():
        eng = {paths.korean(nb) for nb in all_nbs}
        for k in sorted(paths.ko.rglob("*.ipynb")):
            if k not in eng and k.name != "glossary.ipynb" and ".ipynb_checkpoints" not in k.parts:
                problems.append(f"{k.relative_to(paths.root)} has no English notebook; delete it and its catalog")
    return problems


def cmd_check(paths: Paths, args) -> int:
    t0 = time.perf_counter()
    nbs = paths.resolve(args.notebooks) if args.notebooks else None
    problems = check(paths, nbs, require_all=args.require_all)
    checked = nbs if nbs is not None else paths.with_catalog()
    untranslated = [f"nbs/{paths.rel(nb)}" for nb in paths.english() if not paths.catalog(nb).exists()]
    if problems:
        print(f"FAIL: the Korean edition is out of sync ({len(problems)} problem(s)):")
        for p in problems: print("  " + p)
        return 1
    print(f"ok: Korean edition in sync for {len(checked)} notebook(s) ({time.perf_counter() - t0:.1f}s)")
    if untranslated and not args.require_all:
        print(f"  not yet translated (no catalog): {', '.join(untranslated)}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--root", type=Path, default=ROOT, help="the repository root (default: this tool's repository)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("status", "update", "build", "sync", "check"):
        sp = sub.add_parser(name)
        sp.add_argument("notebooks", nargs="*")
        if name == "check": sp.add_argument("--require-all", action="store_true",
                                            help="fail for every English notebook that has no catalog yet")
    args = ap.parse_args(argv)
    paths = Paths(args.root.resolve())
    try: return {"status": cmd_status, "update": cmd_update, "build": cmd_build, "sync": cmd_sync,
                "check": cmd_check}[args.cmd](paths, args)
    except I18nError as e:
        print(f"FAIL: {e}", file=sys.stderr); return 1


if __name__ == "__main__":
    sys.exit(main())
