"""Committed notebooks are stripped of outputs and each has a parameters cell."""

import nbformat
import pytest

from aecrypt.notebooks import hygiene_problems, notebook_paths, strip_outputs


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
