"""The docs website in a real browser, with the network unplugged: serve _docs/ on localhost, open it in headless
Chromium at 1280 px, visit every page reachable from the navigation, and fail on

- any request to another host (it is blocked, listed, and fails the test: the site must work offline),
- a console or script error, a broken internal link or anchor, a broken image, a missing reference entry,
- maths left as TeX (`$...$`, `\\(...\\)`, `\\[...\\]`) or MathML the browser does not lay out,
- a code cell or output wider than its column (a horizontal scrollbar), or a page wider than the window,
- a picture without alt text, a class whose reference entry reads `def`.

test_the_checks_can_fail serves a page that breaks each rule (an outside <link> among them) and proves each is caught.
Saves screenshots of the home page, lessons 03 and 04 and the data page to screenshots/ (or $DOCS_SCREENSHOTS).

Uses _docs/ when it is newer than every notebook, the package and tools/ (so `make test`, which runs `make docs`
first, builds once); otherwise it builds the site.

Chromium: $CHROMIUM, else /usr/bin/chromium (Debian's `chromium`: `apt-get install chromium`; .ci/run installs it),
chromium-browser or google-chrome. Without one the test skips and says why, except when $CI is set (or
DOCS_BROWSER_REQUIRED=1): then it fails, so CI never passes without having run it.
"""
import functools
import http.server
import importlib.util
import os
import re
import shutil
import sys
import threading
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

pytestmark = pytest.mark.browser   # needs Chromium and the built site; `make quick` leaves it out

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path(os.environ.get("DOCS_SCREENSHOTS") or ROOT / "screenshots")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable"]
WIDTH = 1280


def _required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("DOCS_BROWSER_REQUIRED") == "1"


def _unavailable(reason):
    if _required():
        pytest.fail(f"{reason}. CI is set, so the docs browser test must run: this is a failure, not a skip", pytrace=False)
    pytest.skip(f"{reason}: the docs browser test did not run")


def _browser_path():
    for p in [os.environ.get("CHROMIUM"), *CANDIDATES]:
        if p and (Path(p).exists() or shutil.which(p)):
            return p
    _unavailable("no Chromium found (install Debian's `chromium`: apt-get install chromium, as .ci/run does, or set $CHROMIUM)")


def _tool(name):
    "Import tools/<name>.py (tools/ is a folder of scripts, not a package)."
    spec = importlib.util.spec_from_file_location(f"tools_{name}", ROOT / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _fresh(site: Path) -> bool:
    index = site / "index.html"
    if not index.exists():
        return False
    built = index.stat().st_mtime
    sources = [*(ROOT / "nbs").rglob("*"), *(ROOT / "cifar_tutorial").glob("*.py"), *(ROOT / "tools").glob("*.py"), ROOT / "pyproject.toml"]
    return all(f.stat().st_mtime <= built for f in sources if f.is_file() and "_proc" not in f.parts and ".ipynb_checkpoints" not in f.parts)


@pytest.fixture(scope="module")
def docs_build():
    try:
        import smalldocs  # noqa: F401
    except ImportError:
        _unavailable("smalldocs is not installed (the offline docs build needs it, and Python 3.11+)")
    return _tool("docs_build")


@pytest.fixture(scope="module")
def site(docs_build):
    site = ROOT / "_docs"
    if not _fresh(site):
        docs_build.build(ROOT, site, quiet=True)
    return site


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextmanager
def serve(folder):
    "Serve `folder` on 127.0.0.1; yield its base URL."
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def server(site):
    with serve(site) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    exe = _browser_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=ARGS, headless=True)
        yield b
        b.close()


def offline_context(browser, base, problems):
    "A 1280 px browser context in which every request to another host is blocked and reported as a problem."
    ctx = browser.new_context(viewport={"width": WIDTH, "height": 900}, color_scheme="light", service_workers="block")

    def route(r):
        if r.request.url.startswith(base):
            return r.continue_()
        problems.append(f"request to another host blocked: {r.request.url} (from {r.request.frame.url if r.request.frame else '?'})")
        return r.abort("blockedbyclient")

    ctx.route("**/*", route)
    return ctx


# Runs in each page; returns a list of problems. Text outside code and maths must hold no TeX; MathML must be laid out as
# maths; no code block, output or page may be wider than its box; every picture has alt text; no class reads `def`.
PAGE_CHECKS = r"""() => {
  const out = [];
  const tex = /\$\$|\\\(|\\\)|\\\[|\\\]|\$[^\s$][^$]*?\$/;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {acceptNode: n =>
      n.parentElement.closest('script,style,pre,code,math,textarea,noscript,kbd,samp') ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  while (walker.nextNode()) {
    const m = walker.currentNode.nodeValue.match(tex);
    if (m) out.push(`maths left as TeX: "${walker.currentNode.nodeValue.trim().slice(0, 80)}"`);
  }
  for (const m of document.querySelectorAll('math')) {
    const d = getComputedStyle(m).display, r = m.getBoundingClientRect();
    if (!d.includes('math') || r.width === 0 || r.height === 0) out.push(`MathML not laid out as maths (display ${d}): ${m.getAttribute('alttext')}`);
    if (/\\[A-Za-z]/.test(m.textContent)) out.push(`TeX command left inside MathML: ${m.textContent.slice(0, 80)}`);
  }
  const content = document.querySelector('main') || document.body;
  for (const el of content.querySelectorAll('pre, div.sourceCode, .cell-output, .cell-output-stdout, .cell-output-stderr')) {
    if (el.scrollWidth > el.clientWidth + 1) out.push(`wider than its column (${el.scrollWidth} > ${el.clientWidth} px): ${el.textContent.trim().slice(0, 60)}`);
  }
  const page = document.documentElement;
  if (page.scrollWidth > window.innerWidth) out.push(`page wider than the ${window.innerWidth} px window: ${page.scrollWidth} px`);
  for (const img of document.querySelectorAll('img')) {
    if (!(img.getAttribute('alt') || '').trim()) out.push(`picture without alt text: ${(img.currentSrc || img.src).slice(0, 60)}`);
  }
  for (const c of content.querySelectorAll('.cell-output-markdown pre code')) {
    const m = c.textContent.match(/^def ([A-Z]\w*)\(/);
    if (m) out.push(`class ${m[1]} rendered as a function (def ${m[1]}(...))`);
  }
  return out;
}"""


def check_pages(ctx, base, start, problems, crawl=True, lang_links=None):
    """Visit `start` (and, with `crawl`, every page the navigation links to, each page's link to its twin in the other
    language, and the Korean pages the Korean pages link to); add what is wrong to `problems`; record each page's
    language link in `lang_links` (page URL -> twin URL)."""
    page = ctx.new_page()
    page.on("console", lambda m: m.type == "error" and problems.append(f"{page.url}: console error: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"{page.url}: script error: {e}"))
    page.on("requestfailed", lambda r: r.url.startswith(base) and problems.append(f"{page.url}: failed to load {r.url}"))
    queue, seen, ids, links = [start], set(), {}, []
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        resp = page.goto(url, wait_until="load")
        if resp is None or resp.status != 200:
            problems.append(f"{url}: HTTP {resp.status if resp else 'no response'}")
            continue
        page.wait_for_timeout(50)
        ids[urlparse(page.url).path] = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        bad = page.eval_on_selector_all("img", "els => els.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => (i.currentSrc || i.src).slice(0, 80))")
        problems += [f"{url}: broken image {b}" for b in bad]
        problems += [f"{url}: {p}" for p in page.evaluate(PAGE_CHECKS)]
        links += [(url, h) for h in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)") if h.startswith(base)]
        twin = page.eval_on_selector_all(".lang-link a[href]", "els => els.map(e => e.href)")
        if lang_links is not None and twin:
            lang_links[url] = urldefrag(twin[0])[0]
        if crawl:
            hrefs = page.eval_on_selector_all("#quarto-header a[href], #quarto-sidebar a[href], nav.navbar a[href]", "els => els.map(e => e.href)")
            hrefs += twin
            if urlparse(url).path.startswith("/ko/"):   # the Korean pages reach each other from their text (home, glossary)
                hrefs += [h for h in page.eval_on_selector_all("main a[href]", "els => els.map(e => e.href)") if urlparse(h).path.startswith("/ko/")]
            queue += sorted({urldefrag(h)[0] for h in hrefs if h.startswith(base) and urlparse(h).path.endswith((".html", "/"))} - seen)
    page.close()
    return seen, ids, links


def test_docs_site_in_browser(site, server, browser, docs_build):
    base, problems, lang_links = server, [], {}
    ctx = offline_context(browser, base, problems)
    seen, ids, links = check_pages(ctx, base, base + "index.html", problems, lang_links=lang_links)

    # every page with a twin in the other language links to it, and the twin links back; every Korean page was visited
    for url, twin in sorted(lang_links.items()):
        if lang_links.get(twin) != url:
            problems.append(f"{url}: its language link goes to {twin}, whose language link goes to {lang_links.get(twin)}")
    korean = {"/ko/" + re.sub(r"(^|/)\d+_", r"\1", p.relative_to(ROOT / "nbs" / "ko").with_suffix(".html").as_posix())
              for p in (ROOT / "nbs" / "ko").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts}   # 00_tensors -> tensors.html
    visited = {urlparse(u).path for u in seen}
    pages = {k for k in korean if (site / k.lstrip("/")).exists()}
    assert pages == korean, f"Korean notebooks without a page on the site: {sorted(korean - pages)}"
    for k in sorted(korean - visited):
        problems.append(f"Korean page {k} is not reachable (no language link or Korean link leads to it)")
    assert len([u for u in lang_links if urlparse(u).path.startswith("/ko/")]) >= 2, f"too few Korean language links: {lang_links}"

    # every internal link (from any visited page) leads to a file, and its anchor exists
    status = {}
    for src, h in links:
        target, frag = urldefrag(h)
        frag = unquote(frag)
        path = urlparse(target).path
        if path.endswith("/"):
            path += "index.html"
        if path not in ids and path not in status:
            try:
                status[path] = urllib.request.urlopen(base.rstrip("/") + path, timeout=10).status
            except Exception as e:  # noqa: BLE001 - any failure is a broken link
                status[path] = str(e)
        if path not in ids and status.get(path) != 200:
            problems.append(f"{src}: broken link {h} ({status.get(path)})")
        elif frag and path in ids and frag not in ids[path]:
            problems.append(f"{src}: link {h}: no #{frag} on that page")

    # every exported function and class has its reference entry on a visited page
    for name, doc in sorted(docs_build.reference_entries(ROOT).items()):
        pg, _, anchor = doc.partition("#")
        if "/" + pg not in ids:
            problems.append(f"{name}: reference page {pg} is not reachable from the navigation")
        elif anchor not in ids["/" + pg]:
            problems.append(f"{name}: no reference entry #{anchor} on {pg}")

    # the navbar lists the lessons (00-06) and every one was visited; no contributor page is on the learners' site
    assert len([u for u in seen if urlparse(u).path.count("/") == 1]) >= 7, f"too few pages reachable: {sorted(seen)}"
    assert not [u for u in seen if "docs_build" in u], "a contributor page is on the learners' site"

    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = ctx.new_page()
    for name, page in [("home", "index.html"), ("lesson03-sgd", "sgd.html"), ("api-data", "api/data.html"), ("lesson04", "cifar_classifier.html")]:
        if (site / page).exists():
            shot.goto(base + page, wait_until="load")
            maths = shot.locator("math").first
            if maths.count():
                maths.scroll_into_view_if_needed()
                shot.evaluate("window.scrollBy(0, -200)")
            shot.screenshot(path=str(SHOTS / f"{name}.png"))
    ctx.close()
    assert not problems, f"{len(problems)} problem(s) on the docs site:\n" + "\n".join(problems[:50])


BROKEN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>broken</title>
<link rel="stylesheet" href="https://fonts.example.com/css2?family=Anything">
</head><body><main>
<p>Unrendered maths: $x^2$ and \\[w \\leftarrow w - g\\].</p>
<div class="cell-output-stdout"><pre><code>{long}</code></pre></div>
<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==">
<div class="cell-output-markdown"><pre><code>def BadFile(*args, **kwargs):</code></pre></div>
</main></body></html>"""


def test_the_checks_can_fail(tmp_path, browser):
    "A page with an outside <link>, TeX, a too-wide output, a picture without alt text and a class as `def`: each is caught."
    (tmp_path / "index.html").write_text(BROKEN_PAGE.replace("{long}", "x" * 400), encoding="utf-8")
    problems = []
    with serve(tmp_path) as base:
        ctx = offline_context(browser, base, problems)
        check_pages(ctx, base, base + "index.html", problems, crawl=False)
        ctx.close()
    text = "\n".join(problems)
    assert "request to another host blocked: https://fonts.example.com/css2?family=Anything" in text, text
    assert "maths left as TeX" in text and "$x^2$" in text, text
    assert "wider than its column" in text and "page wider than" in text, text
    assert "picture without alt text" in text, text
    assert "class BadFile rendered as a function" in text, text


def test_ci_never_skips_the_browser_test(monkeypatch):
    "With CI set, a missing Chromium fails the run instead of skipping."
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setattr(sys.modules[__name__], "CANDIDATES", [])
    with pytest.raises(pytest.fail.Exception, match="must run: this is a failure, not a skip"):
        _browser_path()
    monkeypatch.delenv("CI")
    monkeypatch.delenv("DOCS_BROWSER_REQUIRED", raising=False)
    with pytest.raises(pytest.skip.Exception):
        _browser_path()
