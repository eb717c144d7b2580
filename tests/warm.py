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
- stdin is ``/dev/null``, stdout and stderr are the caller's pipes (passed over the socket);
- the program runs as ``__main__`` (``runpy`` for a script or ``-m``, ``exec`` for ``-c``),
  ``SystemExit`` and uncaught exceptions end it with the status ``python`` would give,
  and ``atexit`` handlers run before it exits.

What the fork cannot reproduce runs by a real ``exec`` instead: interpreter options
(``-X``, ``-W``, ``-u`` ...), a ``PYTHONPATH`` entry outside the repository (it could shadow
a preloaded module on purpose), and ``PYTHON*`` variables other than ``PYTHONPATH`` and
``PYTHONDONTWRITEBYTECODE``. ``DJCFG_TEST_WARM=0`` runs every command by ``exec``: CI runs the
Django 4.2 suite that way, so every end-to-end test also passes on real interpreters.
Tests that signal or kill a subprocess start it themselves with ``subprocess.Popen``.

This module is both the client (imported by ``tests.conftest``) and the server (run as
``python tests/warm.py SOCKET``, so no ``tests`` package is imported in it).
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
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
    """Whether ``python *argv`` with ``env`` runs the same in a forked warm child."""
    if not argv or not enabled():
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


def run(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path | str, timeout: float,
) -> subprocess.CompletedProcess[str]:
    """``python *argv`` in a warm child: the same result ``subprocess.run(..., text=True)`` gives."""
    server = _the_server(env)
    request = json.dumps({"argv": list(argv), "env": dict(env), "cwd": str(cwd)}).encode()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(server.path)
        socket.send_fds(sock, [struct.pack("!I", len(request)) + request], [out_w, err_w])
    finally:
        os.close(out_w)
        os.close(err_w)
    status_fd = sock.fileno()
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: [], status_fd: []}
    deadline = time.monotonic() + timeout
    open_fds = set(chunks)
    with selectors.DefaultSelector() as selector:
        for fd in open_fds:
            selector.register(fd, selectors.EVENT_READ)
        while open_fds:
            remaining = deadline - time.monotonic()
            events = selector.select(max(remaining, 0)) if remaining > 0 else []
            if not events and time.monotonic() >= deadline:
                pid = _pid(chunks[status_fd])
                if pid:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                for fd in (out_r, err_r):
                    os.close(fd)
                sock.close()
                raise subprocess.TimeoutExpired([sys.executable, *argv], timeout)
            for key, _ in events:
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                else:
                    selector.unregister(key.fd)
                    open_fds.discard(key.fd)
    os.close(out_r)
    os.close(err_r)
    sock.close()
    lines = b"".join(chunks[status_fd]).split()
    if len(lines) != 2:
        raise RuntimeError(f"the warm interpreter gave no exit status for {list(argv)[:3]}")
    return subprocess.CompletedProcess(
        [sys.executable, *argv], int(lines[1]), _text(chunks[out_r]), _text(chunks[err_r]),
    )


def _pid(chunks: list[bytes]) -> int | None:
    first = b"".join(chunks).split(b"\n", 1)[0]
    return int(first) if first.strip().isdigit() else None


def _text(chunks: list[bytes]) -> str:
    return b"".join(chunks).decode().replace("\r\n", "\n").replace("\r", "\n")


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
        message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 2)
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

    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in (devnull, *fds):
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
