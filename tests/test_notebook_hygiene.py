"""Committed notebooks are stripped of outputs, each has a parameters cell, learning
objectives and a "Try it" section whose exercises name parameters it declares."""

import re

import nbformat
import pytest

from aecrypt.study.notebooks import PROSE_NUMBERS_ALLOWED, hygiene_problems, notebook_paths, prose_result_numbers, strip_outputs


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_committed_notebook_is_clean(path):
    assert hygiene_problems(path) == []


def test_there_are_notebooks():
    assert notebook_paths(), "no numbered notebooks under notebooks/"


def _notebook(tmp_path, with_output: bool, tagged: bool = True):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# What this shows"))
    params = nbformat.v4.new_code_cell("seed: int = 0  # random seed")
    if tagged:
        params.metadata["tags"] = ["parameters"]
    nb.cells.append(params)
    cell = nbformat.v4.new_code_cell("print(1)")
    if with_output:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
        cell.execution_count = 1
    nb.cells.append(cell)
    path = tmp_path / "01_example.ipynb"
    nbformat.write(nb, path)
    return path


def test_hygiene_check_fails_on_a_notebook_with_outputs(tmp_path):
    path = _notebook(tmp_path, with_output=True)
    problems = hygiene_problems(path)
    assert any("has outputs" in p for p in problems)
    assert any("execution count" in p for p in problems)


def test_hygiene_check_fails_without_parameters_cell(tmp_path):
    path = _notebook(tmp_path, with_output=False, tagged=False)
    assert any("parameters" in p for p in hygiene_problems(path))


def test_strip_outputs_makes_a_notebook_clean(tmp_path):
    path = _notebook(tmp_path, with_output=True)
    strip_outputs(path)
    assert hygiene_problems(path) == []


# ------------------------------------------------------------------ teaching

def _items(text: str, marker: str) -> list[str]:
    """The list items of a Markdown block, each joined onto one line; ``marker`` is a regex
    for an item's bullet (``-`` or ``1.``)."""
    items: list[str] = []
    for line in text.splitlines():
        if re.match(marker, line):
            items.append(re.sub(marker, "", line, count=1).strip())
        elif items and line.startswith(" ") and line.strip():
            items[-1] += " " + line.strip()
        elif items and not line.strip():
            items.append("")  # a blank line ends an item
    return [item for item in items if item]


def _parameters_named(item: str, path) -> tuple[set[str], list[str]]:
    """The parameters of ``path``'s notebook an exercise names, and the problems with any it
    names: each `aecrypt reproduce` command's ``-p NAME`` must be declared by a notebook in
    its ``--only``; each `NAME = VALUE` by this notebook's parameters cell."""
    from aecrypt.study.parameters import declared_parameters

    named, problems = set(), []
    own = set(declared_parameters(path))
    for span in re.findall(r"`([^`]+)`", item):
        words = span.split()
        if words[:2] == ["aecrypt", "reproduce"]:
            only = [n for i, w in enumerate(words) if w == "--only" and i + 1 < len(words) for n in words[i + 1].split(",")]
            names = [words[i + 1] for i, w in enumerate(words) if w == "-p" and i + 1 < len(words)]
            targets = [p for p in sorted(path.parent.glob("[0-9][0-9]_*.ipynb")) if p.name[:2] in only] if only else [path]
            known = set().union(*(declared_parameters(p) for p in targets))
            problems += [f"`{span}`: no notebook in --only {','.join(only)} declares {n}" for n in names if n not in known]
            if path in targets:
                named |= {n for n in names if n in own}
        elif match := re.fullmatch(r"(\w+) = .+", span.strip()):
            if match.group(1) in own:
                named.add(match.group(1))
            else:
                problems.append(f"`{span}`: {match.group(1)} is not in the parameters cell")
    return named, problems


def teaching_problems(path) -> list[str]:
    """What a notebook lacks for teaching: two or three objectives in its first cell; a
    "## Self-check" cell of three to five questions, each with a collapsed answer; and a last
    markdown cell "## Try it" of two or three exercises, each naming a parameter it declares
    and with a collapsed worked answer, followed only by code (its expected outcomes)."""
    from aecrypt.study.teaching.lectures import SELF_CHECK, TRY_IT, numbered_items

    nb = nbformat.read(path, as_version=4)
    problems = []
    first = nb.cells[0]
    head, _, objectives = first.source.partition("**You will learn to**")
    if first.cell_type != "markdown" or not _:
        problems.append("first cell has no '**You will learn to**' objectives")
    elif "What this shows" not in head:
        problems.append("the objectives should follow the 'What this shows' text")
    elif not 2 <= len(_items(objectives.split("\n\n**", 1)[0], r"^- ")) <= 3:
        problems.append("the first cell should list two or three objectives")
    last = max((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), default=0)
    if not nb.cells[last].source.startswith(TRY_IT):
        return problems + ["last markdown cell is not a '## Try it' section"]
    checks = [c for c in nb.cells[:last] if c.cell_type == "markdown" and c.source.startswith(SELF_CHECK)]
    questions = numbered_items(checks[-1].source) if checks else []
    if not 3 <= len(questions) <= 5:
        problems.append(f"'Self-check' has {len(questions)} questions, not three to five")
    problems += [f"self-check question {n} has no collapsed answer" for n, q in enumerate(questions, 1) if not q.answer]
    exercises = numbered_items(nb.cells[last].source)
    if not 2 <= len(exercises) <= 3:
        problems.append(f"'Try it' has {len(exercises)} exercises, not two or three")
    for number, exercise in enumerate(exercises, 1):
        named, wrong = _parameters_named(exercise.text, path)
        problems += [f"exercise {number}: {w}" for w in wrong]
        if not named:
            problems.append(f"exercise {number} names no parameter of this notebook (`aecrypt reproduce --only NN -p NAME VALUE` or `NAME = VALUE`)")
        if not exercise.answer:
            problems.append(f"exercise {number} has no collapsed worked answer")
    problems += [f"cell {i} after 'Try it' is not code" for i, c in enumerate(nb.cells) if i > last and c.cell_type != "code"]
    return problems


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_notebook_teaches(path):
    assert teaching_problems(path) == []


def _teaching_notebook(tmp_path, exercises: list[str], objectives: int = 2, questions: int = 3):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell(
        "# 01 · Example\n\n**What this shows.** Something.\n\n**You will learn to**\n\n" + "\n".join(f"- aim {i}" for i in range(objectives))))
    params = nbformat.v4.new_code_cell("seed: int = 0  # random seed\nimage_size: int = 32  # pixels")
    params.metadata["tags"] = ["parameters"]
    nb.cells.append(params)
    answer = "\n\n   <details><summary>Answer</summary>\n\n   Because.\n\n   </details>\n\n"
    nb.cells.append(nbformat.v4.new_markdown_cell("## Self-check\n\n" + "".join(f"{i}. Why?{answer}" for i in range(1, questions + 1))))
    nb.cells.append(nbformat.v4.new_markdown_cell("## Try it\n\n" + "".join(f"{i}. {e}{answer}" for i, e in enumerate(exercises, 1))))
    path = tmp_path / "01_example.ipynb"
    nbformat.write(nb, path)
    return path


def test_teaching_check_passes_a_good_notebook(tmp_path):
    path = _teaching_notebook(tmp_path, ["Set `seed = 1` and look at the table.", "Run `aecrypt reproduce --only 01 -p image_size 64`."])
    assert teaching_problems(path) == []


def test_teaching_check_fails_on_an_undeclared_parameter(tmp_path):
    path = _teaching_notebook(tmp_path, ["Set `sed = 1`.", "Run `aecrypt reproduce --only 01 -p image_sise 64`."])
    problems = teaching_problems(path)
    assert any("sed" in p for p in problems) and any("image_sise" in p for p in problems)


def test_teaching_check_fails_without_objectives_or_exercises(tmp_path):
    path = _teaching_notebook(tmp_path, ["Set `seed = 1`.", "Just look at it."], objectives=1)
    problems = teaching_problems(path)
    assert any("objectives" in p for p in problems) and any("exercise 2 names no parameter" in p for p in problems)


def test_teaching_check_fails_on_too_few_self_check_questions_or_an_unanswered_exercise(tmp_path):
    path = _teaching_notebook(tmp_path, ["Set `seed = 1`.", "Run `aecrypt reproduce --only 01 -p image_size 64`."], questions=2)
    nb = nbformat.read(path, as_version=4)
    nb.cells[-1].source = nb.cells[-1].source.replace("<details><summary>Answer</summary>\n\n   Because.\n\n   </details>", "", 1)
    nbformat.write(nb, path)
    problems = teaching_problems(path)
    assert "'Self-check' has 2 questions, not three to five" in problems
    assert "exercise 1 has no collapsed worked answer" in problems and not any("exercise 2 has" in p for p in problems)


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_every_exercise_has_an_answer_read_from_the_committed_run(path):
    # Each "Try it" exercise states its expected outcome through aecrypt.study.teaching.exercises,
    # and the notebook's last cell prints them.
    from aecrypt.study.teaching.exercises import ANSWERS
    from aecrypt.study.teaching.lectures import read_lecture

    lecture = read_lecture(path)
    assert {n for (stem, n) in ANSWERS if stem == path.stem} == set(range(1, len(lecture.exercises) + 1))
    nb = nbformat.read(path, as_version=4)
    assert f'exercises.show_expected("{path.stem}")' in nb.cells[-1].source


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.name)
def test_no_measured_number_is_typed_into_a_notebooks_prose(path):
    # A result stated in markdown goes stale when the run changes: print it from the tables.
    nb = nbformat.read(path, as_version=4)
    typed = {index: prose_result_numbers(cell.source) for index, cell in enumerate(nb.cells) if cell.cell_type == "markdown"}
    assert {index: numbers for index, numbers in typed.items() if numbers} == {}


def test_the_prose_number_check_fails_on_a_typed_result():
    assert prose_result_numbers("The attacker reached SSIM 0.856, and training took 5.6 min (20 % faster).") == [
        "0.856", "5.6 min", "20 %"]
    # the paper's numbers, section numbers, sizes and code are not results of this run
    assert prose_result_numbers("The paper's SSIM 0.9528 (Section 3.4) on 224×224×3 images; `-p epochs 4`.") == []
    assert all(reason for reason in PROSE_NUMBERS_ALLOWED.values())
