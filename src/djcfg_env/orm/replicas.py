"""Read replicas at run time: which alias a read goes to (the ``REPLICAS`` switch).

The configuration side publishes ``DATABASE_REPLICAS`` (primary -> its replica
aliases, from ``replica_of=``), ``DATABASE_REPLICA_MAX_LAG`` (replica -> seconds,
from ``replica_max_lag=``) and ``DB_REPLICA_PIN_SECONDS``. The router
(:mod:`djcfg_env.router`) asks :func:`read` for the alias of a read of a
primary that has replicas, and tells :func:`wrote` about every write.

Per context (:mod:`contextvars`: a thread, a request, an ``asyncio`` task), a
:class:`_Context` holds

* the replica each primary's reads stick to (chosen once, kept while it stays
  healthy and within its lag: reads in one request see one replica);
* the primaries this context wrote to: every later read of such a primary in
  this context goes to the primary (a new request starts a clean context:
  ``request_started``);
* the ``transaction.atomic()`` blocks open on each primary (reads inside go to
  the primary; a choice also asks the primary's connection, so a transaction
  opened outside this context, such as a ``TestCase``'s, counts too);
* the :func:`use_primary` depth (reads inside go to every primary);
* the pins: primary -> a wall-clock time until which its reads go to the
  primary (:class:`~djcfg_env.middleware.ReplicaPinningMiddleware` sets them
  from its cookie; a write sets one for ``DB_REPLICA_PIN_SECONDS``).

The answer for (context, primary) is cached in the context (``ready``) with an
expiry, so the common read costs a context-variable lookup, a dict lookup and a
clock read; anything that changes the answer (a write, ``atomic``, ``use_primary``,
a pin) drops the cached one. The cache expires every :data:`RECHECK_SECONDS`,
so a context notices a replica another context found down, or one whose lag
grew, within that time.

Process-wide health: choosing a replica connects it (``ensure_connection()``, a
no-op when already connected). A replica that fails to connect is out of
rotation for :data:`COOL_DOWN_SECONDS` (one WARNING on the ``djcfg_env.replicas``
logger, naming the alias; the driver's text is scrubbed of every configured
secret), and the read that found it down goes to the next replica or to the
primary. Its lag (``replica_max_lag`` set) is measured at most once per
:data:`LAG_CHECK_SECONDS` per replica, on the replica's own connection in the
current thread: PostgreSQL only (``now() - pg_last_xact_replay_timestamp()``,
0 when everything received is replayed); other engines are taken as never
behind.
"""

from __future__ import annotations

import functools
import inspect
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar, cast

from django.conf import settings
from django.core.exceptions import SynchronousOnlyOperation
from django.core.signals import request_started
from django.db import DEFAULT_DB_ALIAS, Error, connections
from django.db.transaction import Atomic

from .placement import placement
from .switches import Feature, Patch

__all__ = [
    "FEATURE",
    "REPLICATED",
    "COOL_DOWN_SECONDS",
    "LAG_CHECK_SECONDS",
    "RECHECK_SECONDS",
    "read",
    "wrote",
    "use_primary",
    "primary_of",
    "replicas_of",
    "pin",
    "pins",
    "pin_seconds",
    "reset_context",
    "lag",
]

logger = logging.getLogger("djcfg_env.replicas")

#: A replica that cannot be reached is left out of rotation for this long (seconds).
COOL_DOWN_SECONDS = 30.0
#: A replica's replication lag is measured at most once per this many seconds.
LAG_CHECK_SECONDS = 1.0
#: A context re-checks its choice (health, lag) at most this often (seconds).
RECHECK_SECONDS = 1.0
#: ``DB_REPLICA_PIN_SECONDS`` when the settings do not say (django-multidb-router's 15 s).
DEFAULT_PIN_SECONDS = 15.0

#: The time sources (tests replace them): monotonic for health and lag, wall clock for pins.
_clock: Callable[[], float] = time.monotonic
_wall: Callable[[], float] = time.time

_INF = float("inf")

#: primary -> its replicas, while the ``REPLICAS`` feature is installed (empty otherwise).
#: The router binds it once and asks "has replicas?" with one lookup.
REPLICATED: dict[str, tuple[str, ...]] = {}
#: replica -> max lag in seconds (only replicas that set ``replica_max_lag``), while installed.
_MAX_LAG: dict[str, float] = {}
#: The pin length in seconds, while installed.
_PIN: list[float] = [DEFAULT_PIN_SECONDS]

#: replica -> monotonic time until which it is out of rotation.
_down_until: dict[str, float] = {}
#: replica -> (monotonic time of the check, lag in seconds).
_lag_checked: dict[str, tuple[float, float]] = {}
#: replica -> monotonic time of the last check that found it caught up (lag 0).
_caught_up: dict[str, float] = {}
_health_lock = threading.Lock()


# -- the configuration (placement reads it from the settings) -------------------------------


def _configured_replicas() -> Mapping[str, tuple[str, ...]]:
    """primary -> its replicas (only primaries that have some)."""
    return placement().replicas


def primary_of(alias: str) -> str:
    """The primary of a replica alias; any other alias is its own primary.

    The join guard and the cross-database delete compare aliases through this
    (placement's ``foreign_tables`` already counts a replica as its primary):
    a replica and its primary are one database.
    """
    return placement().primary_of.get(alias, alias)


def replicas_of(primary: str) -> tuple[str, ...]:
    """The replicas of ``primary`` (empty when it has none), whether or not the switch is on."""
    return _configured_replicas().get(primary, ())


def pin_seconds() -> float:
    """``DB_REPLICA_PIN_SECONDS`` (0: no pin after a write beyond the context itself)."""
    value = getattr(settings, "DB_REPLICA_PIN_SECONDS", None)
    if value is None:
        return DEFAULT_PIN_SECONDS
    return max(float(value), 0.0)


# -- per-context state ---------------------------------------------------------------------


class _Context:
    """What one context (thread, request, task) has done that decides where its reads go."""

    __slots__ = ("ready", "sticky", "written", "atomic", "forced", "pinned")

    def __init__(self) -> None:
        #: primary -> (alias to read, monotonic expiry): the cached answer.
        self.ready: dict[str, tuple[str, float]] = {}
        #: primary -> the replica this context reads it from.
        self.sticky: dict[str, str] = {}
        #: the primaries this context wrote to.
        self.written: set[str] = set()
        #: primary -> open ``atomic()`` blocks on it.
        self.atomic: Counter[str] = Counter()
        #: open ``use_primary()`` blocks.
        self.forced = 0
        #: primary -> wall-clock time until which its reads go to the primary.
        self.pinned: dict[str, float] = {}


_CONTEXT: ContextVar[_Context | None] = ContextVar("djcfg_env_replicas", default=None)
#: The context's ``ready`` dict, in a variable of its own so that the router's
#: hot path is one ``get()``. Its default is an empty dict that nothing ever
#: writes to (a context without state always misses, and gets a state of its own).
_NOTHING_READY: dict[str, tuple[str, float]] = {}
READY: ContextVar[dict[str, tuple[str, float]]] = ContextVar(
    "djcfg_env_replicas_ready", default=_NOTHING_READY
)


def _state() -> _Context:
    state = _CONTEXT.get()
    if state is None:
        state = _new_state()
    return state


def _new_state() -> _Context:
    state = _Context()
    _CONTEXT.set(state)
    READY.set(state.ready)
    return state


def reset_context(**kwargs: Any) -> None:
    """Start this context afresh: no sticky replica, no writes, no pins (a ``request_started`` receiver).

    A long-running worker that is not a request (a task queue's job) may call
    it between jobs, so each job starts as a new request would. Blocks still
    open (``atomic()``, ``use_primary()``: a test client's request inside a
    ``TestCase``) stay counted.
    """
    before = _CONTEXT.get()
    state = _new_state()
    if before is not None:
        state.atomic.update({alias: n for alias, n in before.atomic.items() if n > 0})
        state.forced = before.forced


def pins() -> dict[str, float]:
    """primary -> wall-clock expiry of this context's unexpired pins."""
    state = _CONTEXT.get()
    if state is None:
        return {}
    now = _wall()
    return {primary: until for primary, until in state.pinned.items() if until > now}


def pin(primary: str, until: float) -> None:
    """Send this context's reads of ``primary`` to the primary until the wall-clock time ``until``."""
    state = _state()
    if until > state.pinned.get(primary, 0.0):
        state.pinned[primary] = until
    state.ready.pop(primary, None)


# -- the router's two questions ---------------------------------------------------------------


def read(primary: str) -> str:
    """The alias a read of ``primary`` (an alias with replicas) goes to in this context.

    (The router inlines these lines: keep them in step.)
    """
    entry = READY.get().get(primary)
    if entry is not None and entry[1] > _clock():
        return entry[0]
    return choose(primary)


def wrote(primary: str) -> None:
    """Record a write to ``primary`` (with replicas): its reads in this context go to it from now on."""
    state = _state()
    state.written.add(primary)
    state.ready[primary] = (primary, _INF)
    seconds = _PIN[0]
    if seconds > 0:
        until = _wall() + seconds
        if until > state.pinned.get(primary, 0.0):
            state.pinned[primary] = until


def choose(primary: str) -> str:
    """:func:`read` without the cached answer: decide, and cache the decision in the context."""
    state = _state()
    now = _clock()
    if state.forced or state.atomic.get(primary) or primary in state.written:
        state.ready[primary] = (primary, _INF)
        return primary
    if connections[primary].in_atomic_block:  # a transaction this context did not see open
        state.ready[primary] = (primary, now + RECHECK_SECONDS)
        return primary
    until = state.pinned.get(primary)
    if until is not None:
        left = until - _wall()
        if left > 0:
            state.ready[primary] = (primary, now + left)
            return primary
        del state.pinned[primary]
    replicas = REPLICATED.get(primary, ())
    sticky = state.sticky.get(primary)
    if sticky in replicas:
        order = [sticky, *(name for name in replicas if name != sticky)]
    else:
        start = random.randrange(len(replicas)) if replicas else 0
        order = [*replicas[start:], *replicas[:start]]
    for replica in order:
        if _usable(replica, primary, now):
            state.sticky[primary] = replica
            state.ready[primary] = (replica, now + RECHECK_SECONDS)
            return replica
    state.ready[primary] = (primary, now + RECHECK_SECONDS)
    return primary


# -- health and lag (process-wide) --------------------------------------------------------------


def _usable(replica: str, primary: str, now: float) -> bool:
    """Whether ``replica`` may serve reads now: not cooling down, connectable, within its lag."""
    if _down_until.get(replica, 0.0) > now:
        return False
    connection = connections[replica]
    try:
        connection.ensure_connection()
    except SynchronousOnlyOperation:
        return True  # asked from an event loop: the query itself will connect (in a thread)
    except Error as error:
        _mark_down(replica, primary, error)
        return False
    limit = _MAX_LAG.get(replica)
    if limit is None:
        return True
    try:
        behind = lag(replica, now)
    except SynchronousOnlyOperation:
        return True
    except Error as error:
        _mark_down(replica, primary, error)
        return False
    return behind <= limit


_LAG_SQL = (
    "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)


def lag(replica: str, now: float | None = None) -> float:
    """``replica``'s replay lag in seconds, measured at most once per :data:`LAG_CHECK_SECONDS`.

    PostgreSQL: ``now() - pg_last_xact_replay_timestamp()``, and 0 when the
    standby has replayed all it received (an idle primary writes nothing, and
    the timestamp of the last replayed transaction grows old without anything
    being behind). Other engines: 0 (not measured).
    """
    now = _clock() if now is None else now
    checked = _lag_checked.get(replica)
    if checked is not None and now - checked[0] < LAG_CHECK_SECONDS:
        return checked[1]
    connection = connections[replica]
    behind = 0.0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_LAG_SQL)
            row = cursor.fetchone()
        behind = float(row[0] or 0.0) if row else 0.0
    if behind <= 0.0:
        _caught_up[replica] = now
    else:
        # Nothing committed before the last check that found it caught up is still behind, so
        # the lag is at most the time since: after an idle spell, the last replayed transaction's
        # age overstates it while a new burst of WAL is being replayed.
        since = _caught_up.get(replica)
        if since is not None:
            behind = min(behind, now - since)
    _lag_checked[replica] = (now, behind)
    return behind


def _mark_down(replica: str, primary: str, error: BaseException) -> None:
    """Take ``replica`` out of rotation for the cool-down, with one warning per outage."""
    with _health_lock:
        now = _clock()
        if _down_until.get(replica, 0.0) > now:
            return
        _down_until[replica] = now + COOL_DOWN_SECONDS
        _lag_checked.pop(replica, None)
        _caught_up.pop(replica, None)
    try:
        connections[replica].close()
    except Exception:  # noqa: BLE001 - a connection that never opened may refuse to close
        pass
    detail = _scrubbed(
        f"{type(error).__name__}: {error}".splitlines()[0] if str(error) else type(error).__name__
    )
    others = [name for name in REPLICATED.get(primary, ()) if name != replica]
    elsewhere = f"the other replicas of {primary!r} or {primary!r}" if others else repr(primary)
    logger.warning(
        "Read replica %r of %r cannot be reached (%s); its reads go to %s for %.0f s.",
        replica,
        primary,
        detail,
        elsewhere,
        COOL_DOWN_SECONDS,
    )


def _scrubbed(text: str) -> str:
    from ..release.report import Scrubber

    return Scrubber(settings.DATABASES, [getattr(settings, "SECRET_KEY", None)])(text)


def _forget_health() -> None:
    _down_until.clear()
    _lag_checked.clear()
    _caught_up.clear()


# -- use_primary -------------------------------------------------------------------------------------

_F = TypeVar("_F", bound=Callable[..., Any])


class use_primary:  # noqa: N801 - a context manager named like a function, as transaction.atomic
    """Send every read inside to the primaries: a context manager and a decorator (sync or async).

    Nestable. Writes inside are recorded as usual (so later reads of that
    primary in the context stay on it)::

        with use_primary():
            order = Order.objects.get(pk=pk)

        @use_primary()
        async def view(request): ...
    """

    def __enter__(self) -> use_primary:
        state = _state()
        state.forced += 1
        state.ready.clear()
        return self

    def __exit__(self, *exc: object) -> None:
        state = _state()
        state.forced = max(state.forced - 1, 0)
        state.ready.clear()

    def __call__(self, func: _F) -> _F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with use_primary():
                    return await func(*args, **kwargs)

            return cast(_F, run_async)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with use_primary():
                return func(*args, **kwargs)

        return cast(_F, run)


# -- the switch --------------------------------------------------------------------------------------


def _atomic_alias(atomic: Atomic) -> str | None:
    alias = atomic.using or DEFAULT_DB_ALIAS
    return alias if alias in REPLICATED else None


def _enter_wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    def __enter__(self: Atomic, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        alias = _atomic_alias(self)
        if alias is not None:
            state = _state()
            state.atomic[alias] += 1
            state.ready.pop(alias, None)
        return result

    __enter__.__doc__ = original.__doc__
    return __enter__


def _exit_wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    def __exit__(self: Atomic, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        finally:
            alias = _atomic_alias(self)
            if alias is not None:
                state = _state()
                if state.atomic[alias] > 0:
                    state.atomic[alias] -= 1
                state.ready.pop(alias, None)

    __exit__.__doc__ = original.__doc__
    return __exit__


def _connect() -> None:
    REPLICATED.clear()
    REPLICATED.update({primary: tuple(names) for primary, names in _configured_replicas().items() if names})
    replicas = {name for names in REPLICATED.values() for name in names}
    found = getattr(placement(), "replica_max_lag", None)
    raw = found if found is not None else (getattr(settings, "DATABASE_REPLICA_MAX_LAG", None) or {})
    _MAX_LAG.clear()
    _MAX_LAG.update({str(name): float(limit) for name, limit in dict(raw).items() if name in replicas})
    _PIN[0] = pin_seconds()
    _forget_health()
    request_started.connect(reset_context, dispatch_uid="djcfg_env.replicas.reset_context")


def _disconnect() -> None:
    request_started.disconnect(dispatch_uid="djcfg_env.replicas.reset_context")
    REPLICATED.clear()
    _MAX_LAG.clear()
    _PIN[0] = DEFAULT_PIN_SECONDS
    _forget_health()


def _atomic() -> type:
    return Atomic


FEATURE = Feature(
    key="REPLICAS",
    summary="Send reads to the primaries' healthy replicas, except after writes, in atomic() and use_primary().",
    patches=(
        Patch(_atomic, "__enter__", _enter_wrap),
        Patch(_atomic, "__exit__", _exit_wrap),
    ),
    needed=lambda: bool(_configured_replicas()),
    connect=_connect,
    disconnect=_disconnect,
)
