"""The reports in a real browser: headless Chromium (Debian's ``chromium``) via Playwright.

Each page is opened from a file:// URL and must load without a console message or a
request leaving the file system, decode every picture, and show the headline figures
of its history; a live page must reload until it is rewritten as final. Every page fits
a 1280 px and a 390 px (phone) wide window without scrolling sideways. Without
Chromium or Playwright the tests skip, unless TWOLAYER_REQUIRE_BROWSER is set (CI).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from test_report import (
    MAX_PAGE_BYTES,
    _history,
    image_run,
    search_dir,
    spiral_run,
    write_many_class_run,
)

from twolayer.report import compare_runs_html, write_report

CHROMIUM = Path("/usr/bin/chromium")
# Headless and offline: no sandbox (CI runs as root), no GPU, no background traffic.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

# Every <img>, and every <image> inside an SVG, decoded again: naturalWidth or 0.
DECODED_WIDTHS = """async () => {
    const urls = [...document.images].map(i => i.src).concat(
        [...document.querySelectorAll("svg image")].map(i => i.href.baseVal));
    return Promise.all(urls.map(async url => {
        const img = new Image();
        img.src = url;
        try { await img.decode(); } catch (e) { return 0; }
        return img.naturalWidth;
    }));
}"""


def _unavailable(why: str) -> None:
    if os.environ.get("TWOLAYER_REQUIRE_BROWSER"):
        pytest.fail(f"{why}; the browser tests must run here (TWOLAYER_REQUIRE_BROWSER is set)")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed: pip install -e '.[test]'")
    if not CHROMIUM.is_file():
        _unavailable(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Opened:
    """A page opened from a file, with every console message, error and request kept."""

    def __init__(self, browser, path: Path, width: int = 1280) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": 800})
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.loads = 0
        page = self.page
        page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url}"))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("load", lambda: setattr(self, "loads", self.loads + 1))
        page.goto(path.resolve().as_uri())

    def text(self, key: str) -> str:
        return self.page.inner_text(f'#headline [data-key="{key}"] dd')

    def check_clean(self, min_pictures: int) -> None:
        widths = self.page.evaluate(DECODED_WIDTHS)
        assert len(widths) >= min_pictures and all(w > 0 for w in widths), widths
        assert self.problems == []
        assert all(url.startswith(("file:", "data:")) for url in self.requests), self.requests


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("browser")
    spiral = spiral_run(root / "spiral")
    other = spiral_run(root / "spiral-slow", epochs=3, lr=0.01)
    return {
        "spiral": spiral,
        "images": image_run(root / "images"),
        "compare": compare_runs_html([spiral["run_dir"], other["run_dir"]], root / "cmp.html"),
        "search": search_dir(root / "search") / "report.html",
        "many": write_many_class_run(root / "many"),
    }


WIDTHS = (1280, 390)
# The elements reaching past the window's right edge, for the failure message.
OVERFLOWING = """() => [...document.querySelectorAll("body *")]
    .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5 && !e.closest(".scroll"))
    .slice(0, 5).map(e => `${e.tagName}.${e.className}: ${e.getBoundingClientRect().right}`)"""


def assert_fits(opened: Opened, width: int) -> None:
    """No sideways scrolling: the document is no wider than the window."""
    page = opened.page
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, (scroll_width, page.evaluate(OVERFLOWING))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["spiral", "images", "compare", "search", "many"])
def test_pages_fit_the_window(browser, pages, name, width):
    path = pages[name] if isinstance(pages[name], Path) else pages[name]["run_dir"] / "report.html"
    opened = Opened(browser, path, width)
    assert_fits(opened, width)
    if name == "search":  # the best command wraps: all of it is on the page, none hidden
        pre = opened.page.locator("#best pre")
        assert pre.evaluate("e => e.scrollWidth <= e.clientWidth")
        assert pre.inner_text().startswith("twolayer train spiral")
    assert opened.problems == []


def test_a_thousand_class_page_is_small_and_loads(browser, pages):
    path = pages["many"]
    assert path.stat().st_size < MAX_PAGE_BYTES
    opened = Opened(browser, path)
    opened.check_clean(min_pictures=0)
    assert opened.page.locator("#confusion table.pairs tbody tr").count() == 40
    assert opened.page.locator("#per-class table tbody tr").count() == 40


@pytest.mark.parametrize("name, pictures", [("spiral", 1), ("images", 10)])
def test_run_report_in_chromium(browser, pages, name, pictures):
    run, history = pages[name], pages[name]["history"]
    opened = Opened(browser, run["run_dir"] / "report.html")
    opened.check_clean(min_pictures=pictures)  # images: weights and 9+ wrong examples
    assert opened.text("best_val_acc") == f"{history['best_val_acc']:.4f}"
    assert opened.text("best_epoch") == str(history["best_epoch"])
    assert opened.text("epochs") == str(len(history["val_acc_history"]))
    assert opened.text("accuracy") == f"{run['results'].accuracy():.4f}"
    assert opened.page.locator("svg.chart").count() == 3 + (name == "spiral")
    assert opened.page.locator("a[href='history.csv']").count() == 1


@pytest.mark.parametrize("name", ["compare", "search"])
def test_comparison_pages_in_chromium(browser, pages, name):
    opened = Opened(browser, pages[name])
    opened.check_clean(min_pictures=0)
    assert opened.page.locator("svg.chart").count() >= 3
    if name == "compare":
        assert opened.page.locator("tr.differs").count() == 1  # lr
        opened.page.click("text=spiral-slow")  # the link to that run's own page
        opened.page.wait_for_url("**/spiral-slow/report.html")
        assert opened.problems == []
    else:
        assert opened.text("trials") == "3 of 3"


def test_live_page_reloads_until_rewritten_as_final(browser, tmp_path):
    write_report(tmp_path, history=_history(1), config={}, live=(1, 3), refresh_seconds=1)
    opened = Opened(browser, tmp_path / "report.html")
    assert opened.text("epochs") == "1 of 3"
    write_report(tmp_path, history=_history(2), config={}, live=(2, 3), refresh_seconds=1)
    opened.page.wait_for_function(
        "document.querySelector('[data-key=epochs] dd').textContent === '2 of 3'", timeout=5000
    )
    write_report(tmp_path, history=_history(3), config={})
    opened.page.wait_for_selector("#finished", timeout=5000)
    assert opened.text("epochs") == "3" and opened.loads >= 3
    loads = opened.loads
    opened.page.wait_for_timeout(2500)  # over two refresh periods of the live page
    assert opened.loads == loads
    assert opened.problems == []


@pytest.fixture(scope="module")
def command_runs(tmp_path_factory) -> dict[str, Path]:
    """Run directories left by `twolayer train` itself: the spiral, CIFAR-10, own images."""
    from fake_cifar import make_fake_cifar10
    from script_helpers import twolayer

    root = tmp_path_factory.mktemp("commands")
    make_fake_cifar10(root / "cifar", n_per_batch=40)
    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 256, (60, 8, 8, 3), dtype=np.uint8)
    np.savez(root / "own.npz", X=pictures, y=np.array(["cat", "dog", "fox"] * 20))
    tiny = ["--hidden", "16", "--epochs", "2", "--quiet"]
    for name, args in {
        "spiral": ["spiral"],
        "cifar10": ["cifar10", "--data-dir", str(root / "cifar"), "--no-download",
                    "--num-train", "150", "--num-val", "50", "--batch-size", "50"],
        "own": [str(root / "own.npz"), "--preprocess", "mean", "--batch-size", "20"],
    }.items():  # fmt: skip
        result = twolayer("train", *args, *tiny, "--out", str(root / name), cwd=root)
        assert result.returncode == 0, result.stderr
    return {name: root / name for name in ("spiral", "cifar10", "own")}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name, pictures", [("spiral", 1), ("cifar10", 10), ("own", 10)])
def test_every_training_command_leaves_a_report_that_passes(
    browser, command_runs, name, pictures, width
):
    run_dir = command_runs[name]
    history = json.loads((run_dir / "history.json").read_text())
    opened = Opened(browser, run_dir / "report.html", width)
    opened.check_clean(min_pictures=pictures)
    assert_fits(opened, width)
    assert opened.text("best_val_acc") == f"{history['best_val_acc']:.4f}"
    assert opened.text("epochs") == str(len(history["val_acc_history"]))
    assert opened.page.locator("meta[http-equiv='refresh']").count() == 0  # final: no reload
