"""The Korean edition (tools/i18n.py): catalogs, generated notebooks in nbs/ko, the sync gate, the glossary."""
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import polib
import pytest

from cifar_tutorial._nbdev_procs import SkipTranslations, is_translation

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("i18n", ROOT / "tools" / "i18n.py")
i18n = importlib.util.module_from_spec(_spec)
sys.modules["i18n"] = i18n
_spec.loader.exec_module(i18n)

PATHS = i18n.Paths(ROOT)
TRANSLATED = PATHS.with_catalog()
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _ids(nbs): return [PATHS.rel(p) for p in nbs]


def test_pilot_notebooks_have_catalogs():
    names = set(_ids(TRANSLATED))
    assert {"index.ipynb", "00_tensors.ipynb"} <= names, names


def test_gate_passes_on_this_checkout():
    assert i18n.check(PATHS) == []


def test_gate_command_exit_status():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "i18n.py"), "check"], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ok:")


@pytest.mark.parametrize("nb", TRANSLATED, ids=_ids(TRANSLATED))
def test_every_entry_translated(nb):
    po = i18n.load_po(PATHS.catalog(nb))
    entries = [e for e in po if not e.obsolete]
    assert entries
    assert not [e.msgctxt for e in entries if not e.msgstr or "fuzzy" in e.flags]
    assert [e.msgid for e in entries] == [u.msgid for u in i18n.extract(PATHS, nb)]


@pytest.mark.parametrize("nb", TRANSLATED, ids=_ids(TRANSLATED))
def test_korean_cells_pair_with_english(nb):
    eng, ko = i18n.read_nb(nb), i18n.read_nb(PATHS.korean(nb))
    ko_cells = [c for c in ko["cells"] if c.get("id") != i18n.NOTE_ID]
    assert [(c["cell_type"], c.get("id")) for c in ko_cells] == [(c["cell_type"], c.get("id")) for c in eng["cells"]]
    assert is_translation(ko) and not is_translation(eng)
    for e, k in zip(eng["cells"], ko_cells):
        if e["cell_type"] == "markdown":
            assert HANGUL.search(i18n.src(k)), f"markdown cell {k.get('id')} has no Hangul"
        if e["cell_type"] == "code":   # one code, one set of results
            assert k.get("outputs") == e.get("outputs") and k.get("execution_count") == e.get("execution_count")


@pytest.mark.parametrize("nb", TRANSLATED, ids=_ids(TRANSLATED))
def test_code_cells_equal_but_for_comments(nb):
    "Tokens (not text) equal once comments are dropped; nbdev `#|` directives kept and equal."
    eng, ko = i18n.read_nb(nb), i18n.read_nb(PATHS.korean(nb))
    ko_code = {c["id"]: i18n.src(c) for c in ko["cells"] if c["cell_type"] == "code"}
    n_comments = 0
    for c in eng["cells"]:
        if c["cell_type"] != "code": continue
        e_src, k_src = i18n.src(c), ko_code[c["id"]]
        assert i18n.strip_comments(k_src) == i18n.strip_comments(e_src), f"code cell {c['id']} differs"
        n_comments += sum(t.type == tokenize.COMMENT and not t.string.startswith("#|") for t in i18n._tokens(e_src))
        if e_src != k_src: assert HANGUL.search(k_src)
    if nb.name == "00_tensors.ipynb": assert n_comments >= 5  # the comparison saw the comments it ignores


def test_strip_comments_sees_code_changes():
    a = "x = 1  # one\n#| export\ny = 'a # not a comment'\n"
    assert i18n.strip_comments(a) == i18n.strip_comments("x = 1  # 하나\n#| export\ny = 'a # not a comment'\n")
    assert i18n.strip_comments(a) != i18n.strip_comments("x = 2  # one\n#| export\ny = 'a # not a comment'\n")
    assert i18n.strip_comments(a) != i18n.strip_comments("x = 1  # one\n#| export\ny = 'a # 주석 아님'\n")
    assert i18n.strip_comments(a) != i18n.strip_comments("x = 1  # one\n#| hide\ny = 'a # not a comment'\n")


def test_comment_translation_keeps_code_and_strings():
    code = 'if a:\n    # two lines\n    # of comment\n    print("# not this")  # inline\n#| hide\n'
    cp = i18n.code_parts(code, "t.ipynb", "c1")
    assert [u.msgid for u in cp.units()] == ["two lines\nof comment", "inline"]
    assert cp.text() == code
    tr = {u.ctxt: t for u, t in zip(cp.units(), ["세 줄로\n늘어난\n주석", "한 줄"])}
    out = cp.text(tr)
    assert out == 'if a:\n    # 세 줄로\n    # 늘어난\n    # 주석\n    print("# not this")  # 한 줄\n#| hide\n'
    assert i18n.strip_comments(out) == i18n.strip_comments(code)


def test_markdown_round_trips_for_every_english_notebook():
    "Rendering every entry from its own English rebuilds each English cell exactly (no cell falls back whole)."
    for nb in PATHS.english():
        parts = i18n.notebook_parts(PATHS, nb)
        cells = i18n.read_nb(nb)["cells"]
        assert [cp.text() for cp in parts] == [i18n.src(c) for c in cells]
        assert not [u for cp in parts for u in cp.units() if u.kind == "whole cell"], nb.name


def test_learner_questions_and_exercises_are_entries_of_their_own():
    units = i18n.extract(PATHS, PATHS.nbs / "00_tensors.ipynb")
    assert [u.kind for u in units if u.msgid.startswith("**Learner question")] == ["learner question box"]
    cell = next(c for c in i18n.read_nb(PATHS.nbs / "00_tensors.ipynb")["cells"]
                if c["cell_type"] == "markdown" and i18n.src(c).startswith("## Exercises"))
    items = len(re.findall(r"^\d+\. ", i18n.src(cell), re.M))            # the numbered exercises of the English cell
    ex = [u for u in units if u.ctxt.startswith(f"00_tensors.ipynb#{cell['id']}/")]
    assert items >= 4 and [u.kind for u in ex] == ["heading ##", "paragraph"] + ["list item"] * items


# ---------------------------------------------------------------------------------------------- the gate fails
@pytest.fixture
def repo(tmp_path):
    "A copy of what the gate reads: nbs (English and Korean), po/."
    shutil.copytree(ROOT / "nbs", tmp_path / "nbs", ignore=shutil.ignore_patterns("_proc", ".ipynb_checkpoints"))
    shutil.copytree(ROOT / "po", tmp_path / "po")
    return i18n.Paths(tmp_path)


def _edit_english(paths, cell_id, new):
    p = paths.nbs / "00_tensors.ipynb"
    nb = json.loads(p.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["id"] == cell_id)
    cell["source"] = i18n.to_lines(new(i18n.src(cell)))
    p.write_text(i18n.nb_str(nb), encoding="utf-8")


def test_gate_fails_on_changed_english_cell_then_fuzzy(repo, capsys):
    assert i18n.check(repo) == []
    _edit_english(repo, "c022", lambda s: s.replace("changes the tensor itself", "changes the tensor in memory"))
    problems = i18n.check(repo)
    assert any("nbs/00_tensors.ipynb cell c022/1" in p and "python tools/i18n.py update nbs/00_tensors.ipynb" in p
               for p in problems), problems
    # update: the entry turns fuzzy, keeps its old translation and records the previous English
    assert i18n.main(["--root", str(repo.root), "update", "00_tensors"]) == 0
    po = i18n.load_po(repo.catalog(repo.nbs / "00_tensors.ipynb"))
    e = next(e for e in po if e.msgctxt == "00_tensors.ipynb#c022/1")
    assert "fuzzy" in e.flags and e.msgstr == "슬라이스에 값을 대입하면 텐서 자체가 바뀝니다:"
    assert e.previous_msgid == "Assigning to a slice changes the tensor itself:"
    assert sum("fuzzy" in x.flags for x in po) == 1
    problems = i18n.check(repo)
    assert len(problems) == 1 and "cell c022/1" in problems[0] and "fuzzy" in problems[0]
    assert i18n.main(["--root", str(repo.root), "check", "00_tensors"]) == 1
    assert "c022/1" in capsys.readouterr().out
    # the translator confirms the old translation still fits: the gate passes (the Korean cell did not change)
    e.flags.remove("fuzzy"); e.previous_msgid = None
    po.save(str(repo.catalog(repo.nbs / "00_tensors.ipynb")))
    assert i18n.check(repo) == []


def test_gate_wants_rebuild_after_code_change(repo):
    "Code is copied from the English: a changed line (comments untouched) only needs `build`."
    _edit_english(repo, "c049", lambda s: s.replace("x.view(3, -1)", "x.view(-1, 4)"))
    probs = i18n.check(repo)
    assert len(probs) == 1 and "nbs/ko/00_tensors.ipynb" in probs[0] and "tools/i18n.py build" in probs[0], probs
    assert i18n.main(["--root", str(repo.root), "build"]) == 0
    assert i18n.check(repo) == []


def test_gate_fails_on_new_cell_and_on_changed_comment(repo):
    p = repo.nbs / "00_tensors.ipynb"
    nb = json.loads(p.read_text(encoding="utf-8"))
    nb["cells"].insert(5, {"cell_type": "markdown", "id": "new1", "metadata": {}, "source": ["A new paragraph."]})
    nb["cells"][next(i for i, c in enumerate(nb["cells"]) if c["id"] == "c050")]["source"] = \
        ["y[0, 0] = 100\n", "assert x[0] == 100   # view and x share memory"]
    p.write_text(i18n.nb_str(nb), encoding="utf-8")
    i18n.main(["--root", str(repo.root), "update", "00_tensors"])
    probs = i18n.check(repo)
    assert any("cell new1/1" in x and "not translated" in x for x in probs), probs
    assert any("cell c050/c1" in x and "fuzzy" in x for x in probs), probs


def test_gate_fails_on_hand_edited_korean_notebook(repo):
    k = repo.ko / "00_tensors.ipynb"
    k.write_text(k.read_text(encoding="utf-8").replace("텐서 만들기", "텐서를 만드는 법"), encoding="utf-8")
    assert any("nbs/ko/00_tensors.ipynb" in p for p in i18n.check(repo))


def test_require_all_names_notebooks_without_catalog(repo):
    missing = [nb for nb in repo.english() if not repo.catalog(nb).exists()]
    probs = i18n.check(repo, require_all=True)
    assert len([p for p in probs if "has no Korean catalog" in p]) == len(missing)


# ---------------------------------------------------------------------------------------------- glossary
def test_glossary_terms_used_in_every_catalog():
    rows = i18n.glossary_rows(PATHS)
    assert {r["english"] for r in rows} >= {"gradient", "tensor", "layer", "normalize", "regularization", "in-place"}
    g = {r["english"]: r for r in rows}
    assert g["gradient"]["korean"] == "변화도" and "기울기" in g["gradient"]["alternatives"]
    assert g["normalize"]["korean"] != g["regularization"]["korean"]
    for nb in TRANSLATED:
        assert i18n.glossary_problems(PATHS, nb, i18n.load_po(PATHS.catalog(nb)), rows) == []


def test_glossary_check_can_fail():
    rows = i18n.glossary_rows(PATHS)
    po = i18n._new_po()
    def add(msgid, msgstr): po.append(polib.POEntry(msgctxt=f"00_tensors.ipynb#x/{len(po)}", msgid=msgid, msgstr=msgstr))
    add("Compute the gradient.", "기울기를 계산합니다.")                     # wrong term
    add("Use `torch.tensor` here.", "여기서 `torch.tensor`를 씁니다.")        # code span: not a term
    add("Stochastic gradient descent", "확률적 경사 하강법")                   # longer term wins over gradient
    add("Normalize the images", "이미지를 규제합니다")                         # the regularisation term is wrong here
    probs = i18n.glossary_problems(PATHS, PATHS.nbs / "00_tensors.ipynb", po, rows)
    assert len(probs) == 2 and "'gradient'" in probs[0] and "'normalize'" in probs[1], probs


def test_glossary_page_is_generated_and_korean():
    page = i18n.read_nb(PATHS.ko / "glossary.ipynb")
    text = "".join(i18n.src(c) for c in page["cells"])
    assert "| gradient | 변화도 |" in text and HANGUL.search(text)


# ---------------------------------------------------------------------------------------------- nbdev
def test_nbdev_test_skips_korean_folders():
    from nbdev.test import _keep_file
    kos = [p for p in PATHS.ko.rglob("*.ipynb")]
    assert kos and not [p for p in kos if _keep_file(p, i18n.NOTEST)]
    assert _keep_file(PATHS.nbs / "00_tensors.ipynb", i18n.NOTEST)


def test_export_guard_empties_only_translations():
    from fastcore.nbio import read_nb
    ko, en = read_nb(PATHS.ko / "00_tensors.ipynb"), read_nb(PATHS.nbs / "00_tensors.ipynb")
    n = len(en.cells)
    SkipTranslations(nb=ko); SkipTranslations(nb=en)
    assert ko.cells == [] and len(en.cells) == n


def test_links_go_to_korean_twin_or_english_page():
    ko_index = "".join(i18n.src(c) for c in i18n.read_nb(PATHS.ko / "index.ipynb")["cells"])
    for nb in PATHS.english():
        if nb.parent != PATHS.nbs or nb.name == "index.ipynb": continue
        want = f"]({nb.name})" if nb in TRANSLATED else f"](../{nb.name})"
        assert want in ko_index, (nb.name, want)
    note = i18n.note_cell(PATHS, PATHS.nbs / "solutions" / "00_tensors_solutions.ipynb")
    assert "](../../solutions/00_tensors_solutions.ipynb)" in "".join(note["source"])
    assert i18n.fix_links(PATHS, PATHS.nbs / "index.ipynb", "[a](https://x.org/b.ipynb) [b](#top) [c](nope.ipynb)") \
        == "[a](https://x.org/b.ipynb) [b](#top) [c](nope.ipynb)"
