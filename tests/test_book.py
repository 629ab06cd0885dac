"""The rendered study site (``make book``): its links rewritten to what the site holds, and the
site built from the committed run and opened page by page in headless Chromium, where every
page loads without a console error, every image displays and every internal link resolves."""

import re
import shutil
import time
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

import pytest

from aecrypt import config
from aecrypt.study import book

#: Debian's Chromium and its driver (``make test`` installs them as root).
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
#: Flags headless Chromium needs on a machine without a screen or a network.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
#: The issue's bound on building the site.
BUILD_SECONDS = 60


def test_links_lead_to_staged_pages_copies_or_plain_text(tmp_path):
    staging = book.Staging(tmp_path)
    staging.pages[PurePosixPath("results/default/REPORT.md")] = PurePosixPath("reports/default.md")
    text = ("See [the report](results/default/REPORT.md#tables), [data](data/README.md), ![loss](pyproject.toml), "
            "[the web](https://example.org/x), [here](#glossary), [gone](results/nowhere.csv), ![gone](nowhere.png) "
            "and [a folder](results/default/).")
    out = book.rewrite_links(text, PurePosixPath("."), PurePosixPath("readme.md"), staging)
    assert "[the report](reports/default.md#tables)" in out
    assert "[data](pages/data/README.md)" in out and staging.queue == [PurePosixPath("data/README.md")]
    assert "![loss](files/pyproject.toml)" in out and (tmp_path / "files" / "pyproject.toml").is_file()
    assert "[the web](https://example.org/x)" in out and "[here](#glossary)" in out
    assert " gone, " in out and "nowhere.png" not in out and "and a folder." in out
    assert [w.split(" links to ")[1].split(",")[0] for w in staging.warnings] == ["results/nowhere.csv", "nowhere.png"]
    deeper = book.rewrite_links("[up](../README.md)", PurePosixPath("results/default"), PurePosixPath("reports/default.md"), staging)
    assert deeper == "[up](../pages/results/README.md)"  # results/README.md, linked from the report's folder


def test_readmes_glossary_becomes_a_page_of_its_own():
    readme, glossary = book.split_glossary("# x\n\nintro\n\n## Glossary\n\n- **MSE**: error.\n\n## Layout\n\nfiles\n")
    assert glossary.startswith("# Glossary") and "**MSE**" in glossary and "Layout" not in glossary
    assert "## Glossary" not in readme and "## Layout\n\nfiles" in readme


def _browser(profile: Path):
    """Headless Chromium through Debian's chromedriver, its console kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


#: Loads every image now (lazy ones too), then reports those that did not display.
BROKEN_IMAGES = """
const done = arguments[arguments.length - 1];
const images = [...document.images];
images.forEach(i => { i.loading = 'eager'; });
const settle = () => images.every(i => i.complete) ? done(images.filter(i => !(i.naturalWidth > 0)).map(i => i.src))
                                                  : setTimeout(settle, 50);
settle();
"""


def _ids(page: Path, cache: dict[Path, set[str]]) -> set[str]:
    """The element ids of a built page (what a link's #fragment may name)."""
    if page not in cache:
        cache[page] = set(re.findall(r'\bid="([^"]+)"', page.read_text(errors="replace")))
    return cache[page]


def page_problems(driver, page: Path, ids: dict[Path, set[str]]) -> list[str]:
    """What is wrong with one page in the browser: console errors, images that do not show,
    internal links to a file that does not exist or to an anchor the target lacks."""
    driver.get(page.as_uri())
    problems = [f"console: {entry['message']}" for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    problems += [f"image not shown: {src}" for src in driver.execute_async_script(BROKEN_IMAGES)]
    for href in driver.execute_script("return [...document.querySelectorAll('a[href]')].map(a => a.href)"):
        url = urlparse(href)
        if url.scheme != "file":
            continue
        target = Path(unquote(url.path))
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            problems.append(f"link to a missing file: {href}")
        elif url.fragment and target.suffix == ".html" and unquote(url.fragment) not in _ids(target, ids):
            problems.append(f"link to a missing anchor: {href}")
    return [f"{page.name}: {p}" for p in problems]


@pytest.mark.slow
def test_the_site_builds_offline_and_every_page_works_in_chromium(tmp_path):
    pytest.importorskip("myst_nb", reason="the docs extra is not installed: pip install -e '.[docs]' (make test does)")
    pytest.importorskip("selenium", reason="the dev extra is not installed: pip install -e '.[dev]' (make test does)")
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip("no /usr/bin/chromium and /usr/bin/chromedriver: apt-get install chromium chromium-driver (make test does, as root)")
    start = time.perf_counter()
    index = book.build(tmp_path / "book", results=config.PROJ_ROOT / "results")
    seconds = time.perf_counter() - start
    assert seconds < BUILD_SECONDS, f"the site took {seconds:.0f} s to build"
    site = index.parent
    pages = sorted(p for p in site.rglob("*.html") if not any(part.startswith("_") for part in p.relative_to(site).parts))  # not _static/
    lectures = {p.stem for p in (site / book.LECTURES).glob("*.html")}
    assert {"index", "syllabus", "exercises", "glossary", "readme", "default"} <= {p.stem for p in pages}
    assert lectures == {p.stem for p in (config.PROJ_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert "<details>" in (site / "exercises.html").read_text()  # worked answers stay collapsed
    driver = _browser(tmp_path / "chromium-profile")
    try:
        ids: dict[Path, set[str]] = {}
        problems = [p for page in pages for p in page_problems(driver, page, ids)]
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)
    assert problems == [], "\n".join(problems)
