"""The docs website in a real browser: serve _docs/ on localhost, open it in headless Chromium, visit every
page reachable from the navigation, and fail on a console error, a broken internal link or anchor, a broken
image, or a missing reference entry. Saves screenshots of the home page and lesson 04 to screenshots/.

Uses _docs/ when it is newer than every notebook and the package (so `make test`, which runs `make docs`
first, builds once); otherwise it builds the site. Nothing outside 127.0.0.1 is fetched: requests to other
hosts are answered locally with an empty response and listed.

Chromium: $CHROMIUM, else /usr/bin/chromium (Debian `chromium`; .ci/run installs it), chromium-browser or
google-chrome. Without one the test skips and says why; with DOCS_BROWSER_REQUIRED=1 (CI) it fails instead.
"""
import functools
import http.server
import os
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

pytest.importorskip("smalldocs", reason="the offline docs build needs smalldocs, which needs Python 3.11+")

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable"]


def _unavailable(reason):
    if os.environ.get("DOCS_BROWSER_REQUIRED") == "1":
        pytest.fail(f"{reason} (DOCS_BROWSER_REQUIRED=1, so this is a failure, not a skip)")
    pytest.skip(f"{reason}: the docs browser test did not run")


def _browser_path():
    for p in [os.environ.get("CHROMIUM"), *CANDIDATES]:
        if p and (Path(p).exists() or shutil.which(p)):
            return p
    _unavailable("no Chromium found (install Debian's `chromium`, as .ci/run does, or set $CHROMIUM)")


def _fresh(site: Path) -> bool:
    index = site / "index.html"
    if not index.exists():
        return False
    built = index.stat().st_mtime
    sources = [*(ROOT / "nbs").rglob("*"), *(ROOT / "cifar_tutorial").glob("*.py"), ROOT / "pyproject.toml"]
    return all(f.stat().st_mtime <= built for f in sources if f.is_file() and "_proc" not in f.parts and ".ipynb_checkpoints" not in f.parts)


@pytest.fixture(scope="module")
def site():
    site = ROOT / "_docs"
    if not _fresh(site):
        from cifar_tutorial.docs_build import build
        build(ROOT, site, quiet=True)
    return site


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


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


def _nav_pages(page, base):
    "Internal pages linked from the navbar and the sidebar of the current page."
    hrefs = page.eval_on_selector_all("#quarto-header a[href], #quarto-sidebar a[href], nav.navbar a[href]", "els => els.map(e => e.href)")
    return {urldefrag(h)[0] for h in hrefs if h.startswith(base) and urlparse(h).path.endswith((".html", "/"))}


def test_docs_site_in_browser(site, server, browser):
    from cifar_tutorial.docs_build import reference_entries

    base = server
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light", service_workers="block")
    external = []

    def route(r):
        if r.request.url.startswith(base) or r.request.url.startswith("data:"):
            return r.continue_()
        external.append(r.request.url)  # never fetched: answered here, empty
        return r.fulfill(status=200, body="", content_type="text/plain")

    ctx.route("**/*", route)
    page = ctx.new_page()
    problems, failed_requests = [], []
    page.on("console", lambda m: m.type == "error" and problems.append(f"{page.url}: console error: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"{page.url}: script error: {e}"))
    page.on("requestfailed", lambda r: r.url.startswith(base) and failed_requests.append(f"{page.url}: failed to load {r.url}"))

    queue, seen, ids, links = [base + "index.html"], set(), {}, []
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
        key = urlparse(page.url).path
        ids[key] = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        bad = page.eval_on_selector_all("img", "els => els.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => (i.currentSrc || i.src).slice(0, 80))")
        problems += [f"{url}: broken image {b}" for b in bad]
        for h in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            if h.startswith(base):
                links.append((url, h))
        queue += sorted(_nav_pages(page, base) - seen)
    page.close()

    # every internal link (from any visited page) leads to a file, and its anchor exists
    import urllib.request
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
    for name, doc in sorted(reference_entries(ROOT).items()):
        pg, _, anchor = doc.partition("#")
        if "/" + pg not in ids:
            problems.append(f"{name}: reference page {pg} is not reachable from the navigation")
        elif anchor not in ids["/" + pg]:
            problems.append(f"{name}: no reference entry #{anchor} on {pg}")

    # the navbar lists the six lessons and every one was visited
    assert len([u for u in seen if urlparse(u).path.count("/") == 1]) >= 7, f"too few pages reachable: {sorted(seen)}"

    SHOTS.mkdir(exist_ok=True)
    shot = ctx.new_page()
    shot.goto(base + "index.html", wait_until="load")
    shot.screenshot(path=str(SHOTS / "home.png"))
    if (ROOT / "nbs" / "04_cifar_classifier.ipynb").exists():
        shot.goto(base + "cifar_classifier.html", wait_until="load")
        shot.screenshot(path=str(SHOTS / "lesson04.png"))
        img = shot.locator(".cell-output-display img").first
        if img.count():
            img.scroll_into_view_if_needed()
            shot.evaluate("window.scrollBy(0, -250)")
            shot.screenshot(path=str(SHOTS / "lesson04-outputs.png"))
    ctx.close()

    if external:
        print(f"\n{len(external)} request(s) to other hosts were answered locally, not fetched: {sorted(set(external))[:10]}")
    problems += failed_requests
    assert not problems, f"{len(problems)} problem(s) on the docs site:\n" + "\n".join(problems[:50])
