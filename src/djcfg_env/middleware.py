"""``ReplicaPinningMiddleware``: a client that wrote reads the primary for a while, across requests.

Within one request (one context) reads after a write already go to the primary
(:mod:`djcfg_env.orm.replicas`). The redirect after a POST is another request,
maybe served by another process, where the replica may not have replayed the
write yet. This middleware carries the pin in a cookie:

* request: a valid cookie named :data:`COOKIE_NAME` (signed with
  ``django.core.signing`` and the salt :data:`SALT`; a tampered or malformed
  one is ignored) lists primaries with a wall-clock expiry each; the reads of
  each primary whose pin has not expired go to the primary.
* response: if the request wrote to a primary that has replicas, or is still
  pinned, the cookie is set: those primaries, each until its pin expires (a
  write pins for ``DB_REPLICA_PIN_SECONDS`` from now), ``Max-Age`` the longest
  remaining pin, ``HttpOnly``, ``SameSite=Lax``, ``Secure`` when the request
  came over HTTPS. A cookie whose pins all expired (or a tampered one) is
  deleted. ``DB_REPLICA_PIN_SECONDS = 0`` sets no cookie.

Works in sync and async stacks (``MiddlewareMixin``). Put it anywhere in
``MIDDLEWARE``; it reads no database.
"""

from __future__ import annotations

import math
from typing import Any

from django.core import signing
from django.http import HttpRequest, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

from .orm import replicas

__all__ = ["ReplicaPinningMiddleware", "COOKIE_NAME", "SALT"]

#: The cookie that carries the pin.
COOKIE_NAME = "djcfg_env_pin"
#: The ``django.core.signing`` salt of its value.
SALT = "djcfg_env.middleware.ReplicaPinningMiddleware"


def _read_cookie(request: HttpRequest) -> dict[str, float] | None:
    """primary -> expiry from the request's cookie; None when there is none or it is not valid."""
    value = request.COOKIES.get(COOKIE_NAME)
    if not value:
        return None
    try:
        data: Any = signing.loads(value, salt=SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    pins: dict[str, float] = {}
    for primary, until in data.items():
        if isinstance(primary, str) and isinstance(until, (int, float)) and math.isfinite(until):
            pins[primary] = float(until)
    return pins


class ReplicaPinningMiddleware(MiddlewareMixin):
    """Send a client's reads of a primary it just wrote to, to that primary, for ``DB_REPLICA_PIN_SECONDS``."""

    def process_request(self, request: HttpRequest) -> None:
        pins = _read_cookie(request)
        request._djcfg_env_pin_cookie = pins  # type: ignore[attr-defined]
        if not pins:
            return
        now = replicas._wall()
        for primary, until in pins.items():
            if until > now and replicas.replicas_of(primary):
                replicas.pin(primary, until)

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        had = getattr(request, "_djcfg_env_pin_cookie", None)
        pins = replicas.pins() if replicas.pin_seconds() > 0 else {}
        if pins:
            now = replicas._wall()
            value = signing.dumps(
                {primary: round(until, 3) for primary, until in sorted(pins.items())}, salt=SALT
            )
            response.set_cookie(
                COOKIE_NAME,
                value,
                max_age=max(1, math.ceil(max(pins.values()) - now)),
                secure=request.is_secure(),
                httponly=True,
                samesite="Lax",
            )
        elif had is not None or COOKIE_NAME in request.COOKIES:
            response.delete_cookie(COOKIE_NAME, samesite="Lax")
        return response
