"""The teacher's pages: the syllabus (the notebooks as lectures in order, with what each
needs first, what it teaches and how long it runs) and the exercises with their expected
outcomes, runtimes and worked answers. Titles, objectives, exercises and answers are read
from the notebooks; times and numbers from the committed run; nothing here is a measurement."""

from __future__ import annotations

from collections.abc import Callable

from aecrypt.study.profiles import PROFILES
from aecrypt.study.teaching.committed import TEACHING_PROFILE, CommittedRun, NotCommittedError, duration
from aecrypt.study.teaching.exercises import exercise_markdown
from aecrypt.study.teaching.lectures import Lecture

#: What a class should know, and have run, before each lecture (by notebook number).
PREREQUISITES: dict[str, tuple[str, ...]] = {
    "01": ("Python and NumPy arrays", "what training, validation and test images are for"),
    "02": ("lecture 01 (which images the model may see)", "what a convolution, max pooling and a loss function are",
           "the glossary's MSE, PSNR and SSIM"),
    "03": ("lecture 02 (the trained model: the committed one is used, nothing is trained)",
           "what a key and a block cipher are; the glossary's AES, GCM, AEAD and nonce"),
    "04": ("lecture 03 (the payloads)", "medians and spreads of repeated measurements"),
    "05": ("lecture 02 (the model and the quality measures)", "what a median filter does"),
    "06": ("lectures 03 and 04", "the glossary's ECB, entropy, chi-square, NPCR and UACI"),
}
#: How a lecture links to its notebook, from a page at the site's root.
Link = Callable[[Lecture], str]


def _runtime(lecture: Lecture, run: CommittedRun) -> str:
    """How long a lecture's notebook ran in the committed run, and per further training seed."""
    try:
        first = duration(run.seconds(lecture.stem))
        seeds = run.study()["parameters"].get("seeds") or [0]
        more = [run.seconds(lecture.stem, seed) for seed in seeds[1:]] if lecture.stem in PROFILES[TEACHING_PROFILE].get("partial_notebooks", {}) else []
    except NotCommittedError:
        return "not in the committed run"
    return first + (f" (each further training seed {', '.join(duration(t) for t in more)})" if more else "")


def syllabus_markdown(lectures: list[Lecture], run: CommittedRun, link: Link, exercises_page: str) -> str:
    """The syllabus page: an overview table, then each lecture's prerequisites, objectives and time."""
    lines = ["# Syllabus", "",
             f"The study is taught as {len(lectures)} lectures, one notebook each, in this order. Each time is "
             f"that notebook's wall time in the committed run, on the machine it recorded ({run.machine()}: the "
             "cores of a small laptop). The executed notebooks need no running at all to be read.", "",
             "| lecture | runs in | exercises |", "| --- | --- | --- |"]
    for lecture in lectures:
        lines.append(f"| [{lecture.title}]({link(lecture)}) | {_runtime(lecture, run)} | "
                     f"[{len(lecture.exercises)}]({exercises_page}#{_anchor(lecture)}) |")
    for lecture in lectures:
        lines += ["", f"## {lecture.title}", "", f"[The notebook]({link(lecture)}). {lecture.summary}", "",
                  "**Before it:** " + "; ".join(PREREQUISITES.get(lecture.number, ("nothing",))) + ".", "",
                  "**You will learn to**", "", *[f"- {objective}" for objective in lecture.objectives], "",
                  f"**Runs in** {_runtime(lecture, run)}. **Self-check:** {len(lecture.self_check)} questions at its end. "
                  f"**Exercises:** [{len(lecture.exercises)}, with expected outcomes]({exercises_page}#{_anchor(lecture)})."]
    return "\n".join(lines) + "\n"


def _anchor(lecture: Lecture) -> str:
    """The anchor of a lecture's section on the exercises page (its heading, as MyST slugs it)."""
    return "lecture-" + lecture.number


def exercises_markdown(lectures: list[Lecture], run: CommittedRun, link: Link) -> str:
    """The exercises page: every lecture's exercises with runtime, expected outcome and worked answer."""
    study = run.study()
    lines = ["# Exercises: expected outcomes and worked answers", "",
             f"Every number below is read from the committed run (`results/{run.out.name}`, commit "
             f"`{study.get('git_commit', '?')}`, {run.machine()}) or from its solutions run (`make solutions`, which "
             "trains the model variants the exercises ask about); none is typed. Where the solutions run is not "
             "committed yet, the page says so. The worked answers are the notebooks' own."]
    for lecture in lectures:
        lines += ["", f"(lecture-{lecture.number})=", f"## Lecture {lecture.number}: {lecture.title.split('·', 1)[-1].strip()}", "",
                  f"[The notebook]({link(lecture)}).", ""]
        lines += [exercise_markdown(lecture, number, item, run) + "\n" for number, item in enumerate(lecture.exercises, start=1)]
    return "\n".join(lines) + "\n"
