"""Run every benchmark: ``make bench`` (or ``python benchmarks/run.py [name ...]``).

Each ``benchmarks/bench_*.py`` has a ``main() -> int`` that measures djcfg-env
against a baseline in the same run and prints ratios (never absolute pass/fail
timings alone). Results are also written to ``benchmarks/results/<name>.txt``.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


class _Tee(io.TextIOBase):
    """Prints as it goes and keeps a copy for the results file."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def write(self, text: str) -> int:
        sys.__stdout__.write(text)
        sys.__stdout__.flush()
        return self.buffer.write(text)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    names = argv or sorted(path.stem.removeprefix("bench_") for path in HERE.glob("bench_*.py"))
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    status = 0
    for name in names:
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"bench_{name}")
        tee = _Tee()
        with contextlib.redirect_stdout(tee):
            status |= int(module.main() or 0)
        (results / f"{name}.txt").write_text(tee.buffer.getvalue())
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
