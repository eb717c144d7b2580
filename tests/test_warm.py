"""The warm interpreter (tests/warm.py) starts a program the way ``python`` does.

Every end-to-end test that runs ``python ...`` through ``tests.conftest.run`` relies on it, so
each case here runs the same command twice, by a real ``exec`` and in a warm child, and
compares what the program saw and what the caller got back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests import warm
from tests.conftest import ROOT, clean_env

#: What a program can see of how it was started.
PROBE = textwrap.dedent(
    """
    import json, os, sys
    print(json.dumps({
        "name": __name__,
        "argv": sys.argv,
        "path": sys.path,
        "cwd": os.getcwd(),
        "env": {k: v for k, v in os.environ.items() if k.startswith(("PROBE_", "PYTHON", "DJANGO"))},
        "libc_env": os.popen("printenv PROBE_VALUE").read().strip(),
        "stdin": sys.stdin.read(),
        "settings_configured": "django.conf" in sys.modules and sys.modules["django.conf"].settings.configured,
        "djcfg_env_imported": any(m == "djcfg_env" or m.startswith("djcfg_env.") for m in sys.modules),
        "dont_write_bytecode": sys.dont_write_bytecode,
    }))
    """
)


def both(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], ...]:
    full = clean_env(env)
    assert warm.can_run(argv, full)
    cold = subprocess.run(
        [sys.executable, *argv], env=full, cwd=cwd, capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL,
    )
    return cold, warm.run(argv, env=full, cwd=cwd, timeout=60)


@pytest.fixture
def program(tmp_path: Path) -> Path:
    (tmp_path / "probe.py").write_text(PROBE)
    package = tmp_path / "probepkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(PROBE)
    return tmp_path


@pytest.mark.parametrize(
    "argv",
    [
        ["probe.py", "a", "--b"],
        ["-m", "probepkg", "x"],
        ["-c", PROBE, "y", "z"],
    ],
    ids=["script", "module", "code"],
)
def test_a_warm_child_sees_what_a_fresh_interpreter_sees(program: Path, argv: list[str]) -> None:
    env = {"PROBE_VALUE": "secret-ish value", "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'tests' / 'seed_project'}"}
    if argv[0] != "probe.py":
        env["PYTHONPATH"] += f":{ROOT}"
    cold, hot = both(argv, env, program)
    assert (hot.returncode, hot.stderr) == (cold.returncode, cold.stderr) == (0, "")
    seen_cold, seen_hot = json.loads(cold.stdout), json.loads(hot.stdout)
    assert seen_hot == seen_cold
    assert seen_hot["libc_env"] == "secret-ish value"  # the C library's environment too
    assert not seen_hot["settings_configured"] and not seen_hot["djcfg_env_imported"]


@pytest.mark.parametrize(
    ("code", "status", "stderr"),
    [
        ("import sys; sys.exit(3)", 3, ""),
        ("import sys; sys.exit(None)", 0, ""),
        ("import sys; sys.exit('it went wrong')", 1, "it went wrong\n"),
        ("import sys; sys.exit(256 + 7)", 7, ""),
        ("import atexit; atexit.register(lambda: print('bye')); print('hi', end='')", 0, ""),
        ("raise ValueError('boom')", 1, "ValueError: boom\n"),
    ],
)
def test_exit_statuses_output_and_atexit_match(tmp_path: Path, code: str, status: int, stderr: str) -> None:
    cold, hot = both(["-c", code], {}, tmp_path)
    assert (hot.returncode, hot.stdout) == (cold.returncode, cold.stdout)
    assert hot.returncode == status
    assert hot.stderr.endswith(stderr) and cold.stderr.endswith(stderr)
    assert ("Traceback" in hot.stderr) == ("Traceback" in cold.stderr)


def test_a_timeout_kills_the_child_and_raises_like_subprocess_run(tmp_path: Path) -> None:
    marker = tmp_path / "still-running"
    code = f"import time, pathlib; time.sleep(2); pathlib.Path({str(marker)!r}).write_text('x')"
    with pytest.raises(subprocess.TimeoutExpired):
        warm.run(["-c", code], env=clean_env(), cwd=tmp_path, timeout=0.5)
    time.sleep(2.5)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["-X", "dev", "-c", "pass"], {}),
        (["-u", "-c", "pass"], {}),
        (["-c", "pass"], {"PYTHONWARNINGS": "error"}),
        (["-c", "pass"], {"PYTHONPATH": "/tmp/shadowing-modules"}),
    ],
)
def test_what_a_fork_cannot_reproduce_runs_by_exec(argv: list[str], env: dict[str, str]) -> None:
    assert not warm.can_run(argv, clean_env(env))


def test_input_is_the_childs_stdin(tmp_path: Path) -> None:
    code = "import sys; print(sys.stdin.read().upper(), end='')"
    text = "line one\nline two\n" * 5000  # more than a pipe holds
    result = warm.run(["-c", code], env=clean_env(), cwd=tmp_path, timeout=60, input=text)
    assert (result.returncode, result.stdout) == (0, text.upper())


@pytest.mark.parametrize("kind", ["exec", "warm"])
def test_a_child_read_as_it_prints_and_killed_with_its_session(tmp_path: Path, kind: str) -> None:
    code = (
        "import subprocess, sys, time\n"
        "helper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print('ready', helper.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    env = clean_env()
    if kind == "warm":
        process: Any = warm.Popen(["-c", code], env=env, cwd=tmp_path, start_new_session=True)
    else:
        process = subprocess.Popen(
            [sys.executable, "-c", code], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
    word, helper = process.stdout.readline().split()
    assert word == "ready" and process.poll() is None
    os.killpg(process.pid, signal.SIGKILL)  # the child and the helper it started
    out, err = process.communicate(timeout=30)
    assert (process.returncode, out) == (-signal.SIGKILL, "")
    deadline = time.monotonic() + 10
    while Path(f"/proc/{helper}").exists() and Path(f"/proc/{helper}/stat").read_text().split()[2] != "Z":
        assert time.monotonic() < deadline, "the helper outlived its session"
        time.sleep(0.05)
    with pytest.raises(subprocess.TimeoutExpired):
        warm.Popen(["-c", "import time; time.sleep(5)"], env=env, cwd=tmp_path).wait(timeout=0.2)
