"""The examples in README.md and docs/ run as written (doctest), and their CLI output is true."""

from __future__ import annotations

import doctest
import re

import pytest

from tests.conftest import ROOT, run


@pytest.mark.parametrize("path", ["README.md", "docs/configuration.md"])
def test_python_examples_run_as_written(path: str) -> None:
    # A closing ``` fence right after an example's output would read as output: blank it.
    text = re.sub(r"^```.*$", "", (ROOT / path).read_text(), flags=re.M)
    test = doctest.DocTestParser().get_doctest(text, {}, path, path, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


def test_readme_check_example_prints_what_it_shows() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n\$ (DATABASE_URL=.*?) python -m djcfg_env check\n(.*?)```", readme, re.S)
    assert block, "README lost its `python -m djcfg_env check` example"
    env = dict(re.findall(r"(\w+)='?([^' ]*)'?", block.group(1)))
    result = run(["python", "-m", "djcfg_env", "check"], env=env)
    assert result.returncode == 1
    assert result.stdout + result.stderr == block.group(2)
