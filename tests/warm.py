"""A warm interpreter for the suite's ``python ...`` subprocesses: the same programs, started sooner.

Most end-to-end tests run ``python manage.py ...`` or ``python -m djcfg_env ...`` in a
subprocess. A fresh interpreter spends about 0.4 s of CPU importing Django, marshmallow
(whose validators compile large regular expressions), psycopg and MySQLdb before the
program's first line runs; with some three hundred such runs on two cores, that start-up
was the largest single cost of ``make test``.

``tests.conftest.run`` hands such a command to a server (one per pytest process) that has
imported those third-party modules, and nothing else: no djcfg-env module, no project
module, no settings (it checks that Django's settings and app registry are untouched).
For each command the server forks a child that becomes the program, as ``python`` would
start it:

- ``os.environ`` is replaced by the command's environment (so libpq and the MySQL client
  read it too), the working directory and ``sys.argv`` are the command's;
- ``sys.path`` is what the interpreter computes: the script's directory (``''`` for ``-c``,
  the working directory for ``-m``), then ``PYTHONPATH``, then the installation's paths;
- stdin is ``/dev/null`` or the caller's input, stdout and stderr are the caller's pipes
  (passed over the socket); with ``start_new_session`` it leads a new session;
- the program runs as ``__main__`` (``runpy`` for a script or ``-m``, ``exec`` for ``-c``),
  ``SystemExit`` and uncaught exceptions end it with the status ``python`` would give,
  and ``atexit`` handlers run before it exits.

What the fork cannot reproduce runs by a real ``exec`` instead: interpreter options
(``-X``, ``-W``, ``-u`` ...), a ``PYTHONPATH`` entry outside the repository (it could shadow
a preloaded module on purpose), and ``PYTHON*`` variables other than ``PYTHONPATH`` and
``PYTHONDONTWRITEBYTECODE``. ``DJCFG_TEST_WARM=0`` runs every command by ``exec``: CI runs the
Django 4.2 suite that way, so every end-to-end test also passes on real interpreters.
``Popen`` is the same for tests that read a child's output as it comes or kill it.

This module is both the client (imported by ``tests.conftest``) and the server (run as
``python tests/warm.py SOCKET``, so no ``tests`` package is imported in it).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Imported by the server before it forks: third-party modules every ``manage.py`` run loads.
#: None of them reads the environment or Django's settings at import time.
PRELOAD = (
    "django.core.management",
    "django.core.management.commands.check",
    "django.core.management.commands.migrate",
    "django.core.management.commands.shell",
    "django.core.management.commands.test",
    "django.core.management.commands.dbshell",
    "django.db.models",
    "django.db.migrations.executor",
    "django.db.migrations.autodetector",
    "django.db.backends.sqlite3.base",
    "django.db.backends.postgresql.base",
    "django.db.backends.mysql.base",
    "django.contrib.admin",
    "django.contrib.auth.hashers",
    "django.contrib.messages",
    "django.contrib.sessions.backends.db",
    "django.contrib.staticfiles",
    "django.core.handlers.wsgi",
    "django.http",
    "django.test",
    "django.test.runner",
    "django.urls",
    "django.views.debug",
    "marshmallow",
    "environs",
    "dj_database_url",
    "psycopg",
    "psycopg_pool",
    "MySQLdb",
    "taggit",
    "reversion",
)

#: ``PYTHON*`` variables the warm path reproduces; any other one means a real exec.
_UNDERSTOOD = {"PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}


def enabled() -> bool:
    return os.environ.get("DJCFG_TEST_WARM", "1") != "0"


def can_run(argv: Sequence[str], env: Mapping[str, str]) -> bool:
    """Whether ``python *argv`` with ``env`` runs the same in a forked warm child.

    (Whether it should: ``enabled()``, which ``DJCFG_TEST_WARM=0`` turns off.)
    """
    if not argv:
        return False
    first = argv[0]
    if first.startswith("-") and first not in ("-c", "-m"):
        return False  # interpreter options
    if first in ("-c", "-m") and len(argv) < 2:
        return False
    if any(name.startswith("PYTHON") and name not in _UNDERSTOOD for name in env):
        return False
    for entry in env.get("PYTHONPATH", "").split(os.pathsep):
        if entry and not Path(entry).resolve().is_relative_to(ROOT):
            return False
    return True


# -- client ---------------------------------------------------------------------------------


class _Server:
    def __init__(self, env: Mapping[str, str]) -> None:
        import tempfile

        self.directory = tempfile.mkdtemp(prefix="djcfg-warm-")
        self.path = os.path.join(self.directory, "socket")
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), self.path],
            env=dict(env), cwd=ROOT, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not os.path.exists(self.path):
            if self.process.poll() is not None:
                raise RuntimeError(f"the warm interpreter exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("the warm interpreter did not start within 60 s")
            time.sleep(0.01)
        atexit.register(self.stop)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for name in ("socket",):
            try:
                os.unlink(os.path.join(self.directory, name))
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.directory)
        except OSError:
            pass


_server: _Server | None = None
_lock = threading.Lock()


def _the_server(env: Mapping[str, str]) -> _Server:
    global _server
    with _lock:
        if _server is None or _server.process.poll() is not None:
            base = {k: v for k, v in env.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
            _server = _Server(base)
        return _server


class Popen:
    """``subprocess.Popen([python, *argv], stdout=PIPE, stderr=PIPE, text=True)`` for a warm child.

    ``pid`` is the child's (``kill()`` and ``os.killpg`` reach it; with ``start_new_session``
    it leads a session of its own, as ``subprocess.Popen`` makes it); ``stdout`` and ``stderr``
    are text streams; ``poll``, ``wait``, ``communicate`` and ``returncode`` behave as there.
    ``input`` (text) is the child's stdin; without it, stdin is ``/dev/null``.
    """

    def __init__(
        self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path | str,
        start_new_session: bool = False, input: str | None = None,
    ) -> None:
        server = _the_server(env)
        self.args = [sys.executable, *argv]
        self.returncode: int | None = None
        request = json.dumps(
            {"argv": list(argv), "env": dict(env), "cwd": str(cwd), "session": start_new_session,
             "stdin": input is not None}
        ).encode()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        given = [out_w, err_w]
        if input is not None:
            in_r, in_w = os.pipe()
            given.append(in_r)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.connect(server.path)
            socket.send_fds(self._sock, [struct.pack("!I", len(request)) + request], given)
        finally:
            for fd in given:
                os.close(fd)
        self.stdout = open(out_r, encoding="utf-8")  # noqa: SIM115 - closed by communicate()
        self.stderr = open(err_r, encoding="utf-8")  # noqa: SIM115
        self._buffer = b""
        pid = self._line(None)
        assert pid is not None
        self.pid = int(pid)
        if input is not None:
            threading.Thread(target=_feed, args=(in_w, input.encode()), daemon=True).start()

    def poll(self) -> int | None:
        return self._wait(0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._wait(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return code

    def _wait(self, timeout: float | None) -> int | None:
        if self.returncode is None:
            line = self._line(timeout)
            if line is not None:
                self.returncode = int(line)
                self._sock.close()
        return self.returncode

    def _line(self, timeout: float | None) -> bytes | None:
        """The next line the supervisor sends (the pid, then the exit status); None on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            self._sock.settimeout(None if deadline is None else max(deadline - time.monotonic(), 0))
            try:
                data = self._sock.recv(64)
            except (TimeoutError, BlockingIOError):
                return None
            if not data:
                raise RuntimeError(f"the warm interpreter gave no exit status for {self.args[1:4]}")
            self._buffer += data
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Read stdout and stderr to their ends, then wait; ``TimeoutExpired`` as subprocess gives it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        read: dict[str, str] = {"out": "", "err": ""}  # what is left after an earlier communicate()
        readers = [
            threading.Thread(target=lambda n=name, f=stream: read.__setitem__(n, f.read()), daemon=True)
            for name, stream in (("out", self.stdout), ("err", self.stderr))
            if not stream.closed
        ]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(None if deadline is None else max(deadline - time.monotonic(), 0))
            if reader.is_alive():
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
        self.stdout.close()
        self.stderr.close()
        self.wait(None if deadline is None else max(deadline - time.monotonic(), 0.001))
        return read["out"], read["err"]


def _feed(fd: int, data: bytes) -> None:
    try:
        with open(fd, "wb") as pipe:
            pipe.write(data)
    except BrokenPipeError:
        pass


def run(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path | str, timeout: float,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python *argv`` in a warm child: what ``subprocess.run(..., capture_output=True, text=True)`` gives."""
    process = Popen(argv, env=env, cwd=cwd, input=input)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    return subprocess.CompletedProcess(process.args, process.wait(), out, err)


# -- server ---------------------------------------------------------------------------------


def _serve(path: str) -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # not installed here (MySQLdb, taggit ...): the child imports it, if it can
            pass
    from django.apps import apps
    from django.conf import settings

    assert not settings.configured and not apps.ready, "a preloaded module configured Django"
    base_path = [entry for entry in sys.path[1:] if entry not in os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # supervisors are reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    listener.listen(64)
    os.rename(path + ".tmp", path)
    while True:
        conn, _ = listener.accept()
        message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
        (size,) = struct.unpack("!I", message[:4])
        body = message[4:]
        while len(body) < size:
            more = conn.recv(size - len(body))
            if not more:
                break
            body += more
        if os.fork() == 0:
            listener.close()
            _supervise(conn, fds, json.loads(body), base_path)
        conn.close()
        for fd in fds:
            os.close(fd)


def _supervise(conn: socket.socket, fds: list[int], request: dict, base_path: list[str]) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    pid = os.fork()
    if pid == 0:
        conn.close()
        _become(fds, request, base_path)
    for fd in fds:
        os.close(fd)
    conn.sendall(f"{pid}\n".encode())
    _, status = os.waitpid(pid, 0)
    conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
    conn.close()
    os._exit(0)


def _become(fds: list[int], request: dict, base_path: list[str]) -> None:
    """In the forked child: become ``python *argv`` and never return."""
    import runpy
    import types

    if request["session"]:
        os.setsid()
    stdin = fds[2] if request["stdin"] else os.open(os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in {stdin, *fds}:
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.dont_write_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
    argv: list[str] = request["argv"]
    # As site.removeduppaths() leaves it: PYTHONPATH, then the installation's paths (those .pth
    # files added, such as an editable install's src/, only where not already there), absolute.
    rest: list[str] = []
    for entry in [*os.environ.get("PYTHONPATH", "").split(os.pathsep), *base_path]:
        if entry and os.path.abspath(entry) not in rest:
            rest.append(os.path.abspath(entry))
    code = 0
    try:
        if argv[0] == "-c":
            sys.argv = ["-c", *argv[2:]]
            sys.path[:] = ["", *rest]
            main = types.ModuleType("__main__")
            main.__dict__["__builtins__"] = __builtins__
            sys.modules["__main__"] = main
            exec(compile(argv[1], "<string>", "exec"), main.__dict__)
        elif argv[0] == "-m":
            sys.argv = ["-m", *argv[2:]]
            sys.path[:] = [os.getcwd(), *rest]
            runpy._run_module_as_main(argv[1], alter_argv=True)  # type: ignore[attr-defined]
        else:
            script = os.path.realpath(argv[0])
            sys.argv = list(argv)
            sys.path[:] = [os.path.dirname(script), *rest]
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exit:
        code = _exit_status(exit)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    try:
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(code)


def _exit_status(exit: SystemExit) -> int:
    """The status ``python`` exits with for an uncaught ``SystemExit``."""
    if exit.code is None:
        return 0
    if isinstance(exit.code, int):
        return exit.code & 0xFF
    print(exit.code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    _serve(sys.argv[1])
