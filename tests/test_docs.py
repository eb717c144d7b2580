"""The examples in README.md and docs/ run as written (doctest), and their CLI output is true."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

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


def test_readme_relations_example_prints_what_it_says(tmp_path) -> None:
    import shutil
    import sys

    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\ncd tests/seed_project\n(.*?)```\n\nprints `(.*?)`, then `(.*?)`,", readme, re.S)
    assert block, "README lost its relations example"
    script, first, second = block.groups()
    project = tmp_path / "seed_project"
    shutil.copytree(ROOT / "tests" / "seed_project", project, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    script = script.replace("PYTHONPATH=../../src", f"PYTHONPATH={ROOT / 'src'}")
    result = run(["bash", "-c", script], env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}, cwd=project)
    assert result.stdout.splitlines() == [first, second]
    assert result.returncode == 1  # the last line raises, as the README says
    assert result.stderr.strip().splitlines()[-1].startswith(
        "djcfg_env.exceptions.CrossDatabaseJoinError: Cross-database join through blog.Post.author: "
        "blog.Post lives on 'blog_db' and auth.User on 'default',"
    )
    assert "prefetch_related('author')" in result.stderr
