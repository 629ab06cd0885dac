"""The rendered study site (``make book``): static HTML from the committed executed notebooks,
README, each profile's REPORT.md, the glossary and the teacher's pages, built offline by
Sphinx with MyST-NB and the book theme, with no execution.

The sources are staged into ``build/book/source/`` (git-ignored), their links rewritten to
the staged pages, or to copies of the files they name; the site goes to
``build/book/html/`` (open ``index.html``). Nothing is fetched: no notebook runs, no widget
library or font comes from a network.

    python -m aecrypt.study.book     # what `make book` runs
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

from aecrypt import config
from aecrypt.errors import AecryptError
from aecrypt.files import write_text
from aecrypt.study.notebooks import notebook_paths
from aecrypt.study.report import first_seed_folder
from aecrypt.study.teaching.committed import TEACHING_PROFILE, CommittedRun
from aecrypt.study.teaching.lectures import Lecture, read_lecture
from aecrypt.study.teaching.syllabus import exercises_markdown, syllabus_markdown

#: Where the site is built: its staged sources and its HTML (``build/`` is git-ignored).
BOOK_DIR = config.PROJ_ROOT / "build" / "book"
#: Staged folders: the lectures (executed notebooks), the reports, other linked pages, linked files.
LECTURES, REPORTS, PAGES, FILES = "lectures", "reports", "pages", "files"
#: A markdown link or image: ``[text](target)`` or ``![alt](target)``, target without spaces.
LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^()\s]+)\)")
#: How many of the staging's warnings ``build`` prints (the rest are counted).
SHOWN_WARNINGS = 5
#: README's glossary, a page of its own on the site.
GLOSSARY_HEADING = "## Glossary"

CONF = '''# Sphinx configuration of the aecrypt study site, written by aecrypt.study.book (do not edit).
project = "aecrypt"
html_title = "aecrypt: a study you can read, run and teach"
extensions = ["myst_nb"]
html_theme = "sphinx_book_theme"
html_theme_options = {"home_page_in_toc": True, "show_toc_level": 2}
nb_execution_mode = "off"  # the committed executed copies are shown as they are; nothing runs
nb_ipywidgets_js = {}  # no widget manager from a CDN: the explorers' cells hold static figures
myst_heading_anchors = 3
exclude_patterns = ["files/**"]  # copies of linked files: downloads, not pages
html_context = {"default_mode": "auto"}  # light or dark as the reader's system is (an unset mode is a console error)
html_show_sourcelink = False  # the download button offers each page's source (a lecture's .ipynb) instead
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]
'''


@dataclass
class Staging:
    """The site's sources being staged: which repository file became which page, what was copied."""

    source: Path
    pages: dict[PurePosixPath, PurePosixPath] = field(default_factory=dict)
    queue: list[PurePosixPath] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def page_for(self, repo_path: PurePosixPath) -> PurePosixPath:
        """The staged page of a linked markdown file, staging it under ``pages/`` the first time."""
        if repo_path not in self.pages:
            self.pages[repo_path] = PurePosixPath(PAGES, repo_path)
            self.queue.append(repo_path)
        return self.pages[repo_path]

    def copy(self, repo_path: PurePosixPath) -> PurePosixPath:
        """A linked file copied under ``files/`` (a download or an image)."""
        staged = PurePosixPath(FILES, repo_path)
        target = self.source / staged
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(config.PROJ_ROOT / repo_path, target)
        return staged


def _relative(target: PurePosixPath, page: PurePosixPath) -> str:
    """``target`` as a link from ``page`` (both relative to the site's source folder)."""
    return os.path.relpath(str(target), str(page.parent) or ".").replace(os.sep, "/")


def rewrite_links(text: str, origin: PurePosixPath, page: PurePosixPath, staging: Staging) -> str:
    """Every link and image of a markdown text written at ``origin`` (its folder in the
    repository), made to work from ``page``: to a staged page, to a copy of the file, or,
    for a folder or a file that does not exist, to its text alone (said in the warnings)."""
    def fix(match: re.Match) -> str:
        bang, label, target = match.groups()
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            return match.group(0)
        path, _, anchor = target.partition("#")
        repo_path = PurePosixPath(os.path.normpath(str(origin / path)))
        absolute = config.PROJ_ROOT / repo_path
        if repo_path in staging.pages or (absolute.is_file() and absolute.suffix == ".md"):
            staged = staging.page_for(repo_path)
        elif absolute.is_file():
            staged = staging.copy(repo_path)
        else:
            if not absolute.is_dir():
                staging.warnings.append(f"{page} links to {repo_path}, which does not exist: its text is shown instead")
            return "" if bang else label
        return f"{bang}[{label}]({_relative(staged, page)}{'#' + anchor if anchor else ''})"

    return LINK.sub(fix, text)


def executed_copy(path: Path, results: Path) -> Path | None:
    """The committed run's executed copy of a study notebook: in the run's ``executed/``, or its first seed's."""
    for folder in (results, first_seed_folder(results)):
        candidate = folder / "executed" / path.name
        if candidate.is_file():
            return candidate
    return None


def stage_lecture(path: Path, executed: Path, staging: Staging) -> None:
    """An executed notebook, its markdown cells' links rewritten, as a lecture page."""
    nb = nbformat.read(executed, as_version=4)
    page = PurePosixPath(LECTURES, path.name)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = rewrite_links(cell.source, PurePosixPath(path.parent.relative_to(config.PROJ_ROOT)), page, staging)
    (staging.source / LECTURES).mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, staging.source / page)


def split_glossary(readme: str) -> tuple[str, str]:
    """README without its glossary section, and the glossary as a page of its own."""
    before, heading, rest = readme.partition(GLOSSARY_HEADING)
    if not heading:
        return readme, "# Glossary\n\n(README.md has no glossary section.)\n"
    body, next_heading, after = rest.partition("\n## ")
    return before + (next_heading.lstrip("\n") + after if next_heading else ""), "# Glossary" + body


def stage_markdown_pages(staging: Staging, readme_text: str) -> None:
    """README (its glossary apart), the reports and every markdown file they link to, as pages."""
    while staging.queue:
        repo_path = staging.queue.pop(0)
        page = staging.pages[repo_path]
        text = readme_text if repo_path == PurePosixPath("README.md") else (config.PROJ_ROOT / repo_path).read_text()
        if not re.search(r"^# ", text, re.M):  # a page needs a title (a table's file starts with its caption)
            text = f"# {repo_path}\n\n{text}"
        write_text(staging.source / page, rewrite_links(text, repo_path.parent, page, staging))


def intro(readme: str) -> str:
    """README's opening, up to its first section: what the study is."""
    return readme.split("\n## ", 1)[0].split("\n", 1)[1].strip()


def front_page(opening: str, figure: PurePosixPath | None, lectures: list[Lecture], reports: list[str], others: list[str]) -> str:
    """The site's front page: what the study is (README's opening), Figure 6, where to start,
    and the navigation."""
    lines = ["# aecrypt: hybrid medical-image encryption, reproduced and taught", "", opening, ""]
    if figure is not None:
        lines += [f"![Figure 6: one test image's journey through encoder, AES-256-GCM and decoder]({figure})", ""]
    lines += ["**Where to start.** The [syllabus](syllabus.md) orders the lectures, one executed notebook each, "
              "with what each needs first and how long it runs; the [exercises](exercises.md) give every *Try it* "
              "exercise's expected outcome, runtime and worked answer; the reports give every table and figure of "
              "the committed runs; the [glossary](glossary.md) explains the terms.", ""]
    lines += _toctree("Teaching", ["syllabus", "exercises", "glossary"])
    lines += _toctree("Lectures", [f"{LECTURES}/{lecture.path.stem}" for lecture in lectures])
    lines += _toctree("Reports and README", [*reports, "readme"])
    lines += _toctree("Linked pages", others)
    return "\n".join(lines) + "\n"


def _toctree(caption: str, entries: list[str]) -> list[str]:
    """A hidden table of contents (the sidebar's navigation), empty when there are no entries."""
    return ["```{toctree}", ":hidden:", f":caption: {caption}", "", *entries, "```", ""] if entries else []


def stage_lectures(lectures: list[Lecture], run: CommittedRun, staging: Staging) -> None:
    """Every lecture's executed copy as a page; links to the notebook, or to its copy, lead there."""
    for lecture in lectures:
        executed = executed_copy(lecture.path, run.out)
        if executed is None:
            raise AecryptError(f"no executed copy of {lecture.path.name} in {run.out}; run the study first (make reproduce)")
        stage_lecture(lecture.path, executed, staging)
        for path in (executed, lecture.path):
            staging.pages[PurePosixPath(path.relative_to(config.PROJ_ROOT))] = PurePosixPath(LECTURES, lecture.path.name)


def stage(source: Path, results: Path) -> list[str]:
    """Write the site's sources into ``source`` (emptied first); returns the warnings."""
    if not results.resolve().is_relative_to(config.PROJ_ROOT):
        raise AecryptError(f"the site shows the project's committed results; {results} lies outside {config.PROJ_ROOT}")
    if source.exists():
        shutil.rmtree(source)
    source.mkdir(parents=True)
    staging = Staging(source)
    run = CommittedRun(results / TEACHING_PROFILE)
    lectures = [read_lecture(path) for path in notebook_paths()]
    stage_lectures(lectures, run, staging)
    reports = sorted(p for p in results.glob("*/REPORT.md") if p.parent.name != "scratch")
    readme, glossary = split_glossary((config.PROJ_ROOT / "README.md").read_text())
    for repo_path, page in [(PurePosixPath("README.md"), PurePosixPath("readme.md")),
                            *[(PurePosixPath(r.relative_to(config.PROJ_ROOT)), PurePosixPath(REPORTS, f"{r.parent.name}.md")) for r in reports]]:
        staging.pages[repo_path] = page
        staging.queue.append(repo_path)
    link = lambda lecture: f"{LECTURES}/{lecture.path.name}"  # noqa: E731  (pages at the site's root)
    write_text(source / "syllabus.md", syllabus_markdown(lectures, run, link, "exercises.md"))
    write_text(source / "exercises.md", exercises_markdown(lectures, run, link))
    write_text(source / "glossary.md", rewrite_links(glossary, PurePosixPath("."), PurePosixPath("glossary.md"), staging))
    opening = rewrite_links(intro(readme), PurePosixPath("."), PurePosixPath("index.md"), staging)
    journey = first_seed_folder(run.out) / "fig6_image_journey.png"
    figure = staging.copy(PurePosixPath(journey.relative_to(config.PROJ_ROOT))) if journey.is_file() else None
    stage_markdown_pages(staging, readme)
    others = [str(page.with_suffix("")) for page in staging.pages.values() if page.parts[0] == PAGES]
    write_text(source / "index.md", front_page(opening, figure, lectures, [f"{REPORTS}/{r.parent.name}" for r in reports], others))
    write_text(source / "conf.py", CONF)
    return staging.warnings


def build(out: Path = BOOK_DIR, results: Path | None = None, quiet: bool = True) -> Path:
    """Stage the sources and build the HTML site into ``out/html``; returns its front page."""
    from sphinx.cmd.build import build_main  # only here: Sphinx is the docs extra, not a runtime dependency

    warnings = stage(out / "source", results or config.RESULTS_DIR)
    for warning in warnings[:SHOWN_WARNINGS]:
        print(f"warning: {warning}")
    if len(warnings) > SHOWN_WARNINGS:
        print(f"warning: ... and {len(warnings) - SHOWN_WARNINGS} more links to missing files")
    html = out / "html"
    status = build_main(["-b", "html", *(["-q"] if quiet else []), str(out / "source"), str(html), "-d", str(out / "doctrees")])
    if status != 0:
        raise AecryptError(f"the site did not build (sphinx exit status {status}); its messages are above")
    return html / "index.html"


def main(argv: list[str] | None = None) -> int:
    """Command line of ``make book``: build the site and say where it is and how long it took."""
    parser = argparse.ArgumentParser(prog="python -m aecrypt.study.book", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=BOOK_DIR, help=f"build folder (default: {BOOK_DIR.relative_to(config.PROJ_ROOT)})")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        index = build(args.out)
    except AecryptError as error:
        parser.exit(1, f"error: {error}\n")
    print(f"built the study site in {time.perf_counter() - start:.0f} s: open {index}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
