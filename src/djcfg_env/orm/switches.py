"""The switchboard: every change djcfg-env makes to Django's behaviour, in one registry.

Each :class:`Feature` is one ``DJCFG_ENV`` switch (a Django setting, a dict of
booleans, every key ``True`` by default)::

    DJCFG_ENV = {"JOIN_GUARD": False}   # the join guard off, everything else on

A feature lists the Django methods it replaces (:class:`Patch`), the Django
versions it supports, and how to install and uninstall it. :func:`apply` is the
only thing that installs anything: the ``djcfg_env`` app calls it from
``ready()``, and again on ``setting_changed`` (so ``override_settings(DJCFG_ENV=...)``
works in tests). A feature that is off leaves Django exactly as it was: the
original methods are put back (an inherited one by deleting the override), and
no wrapper stays in the call path. Nothing is installed by an import or by
creating the router.

Wrappers pass arguments through where they can. Where one must know a private
method's parameters, its :attr:`Patch.assumes` names them, and the test suite
compares that with Django's signature, so a Django release that changes it
breaks a test that names the method, not a user's project.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import django
from django.conf import settings

__all__ = [
    "SETTING",
    "Patch",
    "Private",
    "Feature",
    "features",
    "keys",
    "configured",
    "problems",
    "apply",
    "installed",
    "unsupported",
    "patched_methods",
]

#: The Django setting that holds the switches.
SETTING = "DJCFG_ENV"

#: Django versions the features are written and tested for: [first, past the last).
SUPPORTED = ((4, 2), (6, 1))

Version = tuple[int, int]


@dataclass(frozen=True)
class Patch:
    """One Django method replaced while a feature is installed.

    ``owner`` returns the class (imported only when installing: the admin or
    contenttypes may not be installed); ``wrap`` takes the method being
    replaced and returns its replacement.
    """

    owner: Callable[[], type]
    name: str
    wrap: Callable[[Any], Any]
    #: Leading parameter names (``self`` first) the replacement relies on; empty
    #: when it passes ``*args, **kwargs`` through untouched.
    assumes: tuple[str, ...] = ()
    #: Installed only when this app is installed (e.g. ``django.contrib.admin``).
    needs_app: str | None = None
    #: Installed only on these Django versions: [first, past the last).
    versions: tuple[Version, Version] = SUPPORTED

    def applies(self) -> bool:
        from django.apps import apps

        if not _in(self.versions):
            return False
        return self.needs_app is None or apps.is_installed(self.needs_app)

    @property
    def path(self) -> str:
        owner = self.owner()
        return f"{owner.__module__}.{owner.__qualname__}.{self.name}"


@dataclass(frozen=True)
class Private:
    """A private Django method a feature calls (not replaces), with the parameters it passes."""

    owner: Callable[[], type]
    name: str
    assumes: tuple[str, ...]

    @property
    def path(self) -> str:
        owner = self.owner()
        return f"{owner.__module__}.{owner.__qualname__}.{self.name}"


@dataclass(frozen=True)
class Feature:
    """One ``DJCFG_ENV`` switch and everything it installs."""

    key: str
    #: One line: what it does.
    summary: str
    patches: tuple[Patch, ...] = ()
    #: Django versions the feature supports: [first, past the last).
    versions: tuple[Version, Version] = SUPPORTED
    #: Whether the project needs it at all right now (e.g. any read-only alias).
    needed: Callable[[], bool] = field(default=lambda: True)
    #: Extra installation beyond the patches (signals, connection wrappers) and its undo.
    connect: Callable[[], None] | None = None
    disconnect: Callable[[], None] | None = None
    #: Private Django methods the feature calls, checked like the patches' signatures.
    private: tuple[Private, ...] = ()

    @property
    def supported(self) -> bool:
        return _in(self.versions)


def _in(versions: tuple[Version, Version]) -> bool:
    first, past = versions
    return first <= tuple(django.VERSION[:2]) < past


def features() -> tuple[Feature, ...]:
    """The registry, in installation order."""
    from . import (
        constraints,
        cross_delete,
        generic_relations,
        join_guard,
        readonly,
        replicas,
        select_related,
        testing,
    )

    return (
        readonly.FEATURE,
        join_guard.FEATURE,
        select_related.FEATURE,
        cross_delete.FEATURE,
        constraints.FEATURE,
        generic_relations.FEATURE,
        testing.FEATURE,
        replicas.FEATURE,
    )


def keys() -> list[str]:
    """Every valid ``DJCFG_ENV`` key."""
    return [feature.key for feature in features()]


def configured() -> dict[str, bool]:
    """key -> on/off, from ``settings.DJCFG_ENV``; invalid entries count as on (the check reports them)."""
    value = getattr(settings, SETTING, None)
    given = value if isinstance(value, Mapping) else {}
    return {
        key: given[key] if isinstance(given.get(key), bool) else True for key in keys()
    }


def problems(value: object) -> list[tuple[str, str]]:
    """(message, hint) for each invalid part of a ``DJCFG_ENV`` value; empty when valid."""
    valid = keys()
    listing = ", ".join(valid)
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [
            (
                f"{SETTING} is a {type(value).__name__}, not a dict of switches.",
                f'Set it to a dict such as {SETTING} = {{"JOIN_GUARD": False}}; valid keys: {listing}.',
            )
        ]
    found: list[tuple[str, str]] = []
    for key, switch in value.items():
        if key not in valid:
            import difflib

            close = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.6)
            guess = f"Did you mean {close[0]!r}? " if close else ""
            found.append(
                (
                    f"{SETTING} has the unknown key {key!r}.",
                    f"{guess}Valid keys: {listing}.",
                )
            )
        elif not isinstance(switch, bool):
            found.append(
                (
                    f"{SETTING}[{key!r}] is a {type(switch).__name__}, not True or False.",
                    f"Write {SETTING}[{key!r}] = True or False. Valid keys: {listing}.",
                )
            )
    return found


#: key -> [(owner, name, what owner.__dict__ held before: None when inherited)].
_installed: dict[str, list[tuple[type, str, Any]]] = {}
#: key -> True for installed features (whose disconnect() is owed).
_connected: dict[str, bool] = {}


def installed() -> frozenset[str]:
    """The keys of the features installed now."""
    return frozenset(_installed)


def unsupported() -> list[Feature]:
    """Features switched on that this Django version does not support (not installed)."""
    on = configured()
    return [feature for feature in features() if on[feature.key] and not feature.supported]


def _install(feature: Feature) -> None:
    done: list[tuple[type, str, Any]] = []
    for patch in feature.patches:
        if not patch.applies():
            continue
        owner = patch.owner()
        before = owner.__dict__.get(patch.name)
        original = getattr(owner, patch.name, None)  # None: a new class attribute
        replacement = patch.wrap(original)
        replacement.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(owner, patch.name, replacement)
        done.append((owner, patch.name, before))
    _installed[feature.key] = done
    _connected[feature.key] = True
    if feature.connect is not None:
        feature.connect()


def _uninstall(feature: Feature) -> None:
    if _connected.pop(feature.key, False) and feature.disconnect is not None:
        feature.disconnect()
    for owner, name, before in reversed(_installed.pop(feature.key, [])):
        if before is None:
            delattr(owner, name)  # it was inherited: let the base class answer again
        else:
            setattr(owner, name, before)


def apply(**kwargs: Any) -> frozenset[str]:
    """Install exactly the features that are switched on, supported and needed.

    Everything installed is uninstalled first, so a change of switch, routes,
    read-only aliases or installed apps is picked up whole. Returns the keys
    installed. Also a ``setting_changed`` receiver (its arguments are ignored).
    """
    registry = features()
    for feature in reversed(registry):
        if feature.key in _installed:
            _uninstall(feature)
    on = configured()
    for feature in registry:
        if on[feature.key] and feature.supported and feature.needed():
            _install(feature)
    return installed()


def uninstall_all() -> None:
    """Put every replaced method back (for the benchmark's baseline and tests)."""
    for feature in reversed(features()):
        if feature.key in _installed:
            _uninstall(feature)


def patched_methods() -> Iterator[tuple[Feature, Patch]]:
    """Every (feature, patch) pair of the registry that applies to this Django and project."""
    for feature in features():
        for patch in feature.patches:
            if patch.applies():
                yield feature, patch


def private_calls() -> Iterator[tuple[Feature, Private]]:
    """Every private Django method a feature of the registry calls."""
    for feature in features():
        for private in feature.private:
            yield feature, private


def signature_mismatch(patch: Patch | Private) -> str | None:
    """Why ``patch.assumes`` no longer matches Django's method, or None if it does."""
    if not patch.assumes:
        return None
    owner = patch.owner()
    original = getattr(owner, patch.name)
    original = getattr(original, "__wrapped__", original)
    names = list(inspect.signature(original).parameters)
    expected = list(patch.assumes)
    if names[: len(expected)] != expected:
        return (
            f"{patch.path}: djcfg-env assumes the parameters "
            f"({', '.join(expected)}), Django now has ({', '.join(names)})"
        )
    return None
